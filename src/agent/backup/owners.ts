/** uid/gid → name, from /etc/passwd and /etc/group, read once. */
import { readFileSync } from 'node:fs';

function parse(path: string): Map<number, string> {
  const out = new Map<number, string>();
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && f[0] && /^\d+$/.test(f[2]!)) {
      const id = Number(f[2]);
      if (!out.has(id)) out.set(id, f[0]);
    }
  }
  return out;
}

export class OwnerNames {
  private users: Map<number, string> | null = null;
  private groups: Map<number, string> | null = null;
  user(uid: number): string | undefined {
    return (this.users ??= parse('/etc/passwd')).get(uid);
  }
  group(gid: number): string | undefined {
    return (this.groups ??= parse('/etc/group')).get(gid);
  }
  uidOf(name: string): number | undefined {
    for (const [id, n] of (this.users ??= parse('/etc/passwd'))) if (n === name) return id;
    return undefined;
  }
  gidOf(name: string): number | undefined {
    for (const [id, n] of (this.groups ??= parse('/etc/group'))) if (n === name) return id;
    return undefined;
  }
}
