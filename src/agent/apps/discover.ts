/**
 * The agent's answer to `discover` (docs/design/postgresql.md §3.1): the
 * computer's mounted file systems and its application instances.
 */
import { readFile, statfs } from 'node:fs/promises';
import { MAX_DISCOVERED, type DiscoverAnswer, type DiscoveredFileSystem } from '../../protocol/messages.js';
import { findClusters, socketDirsWith, type ListedCluster } from './postgres/find-clusters.js';

/** File systems that hold no files of anyone's (kernel views, control groups, devices, automounts). */
const PSEUDO_FILE_SYSTEMS = new Set([
  'autofs', 'binfmt_misc', 'bpf', 'cgroup', 'cgroup2', 'configfs', 'debugfs', 'devpts', 'devtmpfs', 'efivarfs', 'fusectl', 'hugetlbfs',
  'mqueue', 'nsfs', 'proc', 'pstore', 'rpc_pipefs', 'securityfs', 'selinuxfs', 'sysfs', 'tracefs', 'tmpfs', 'ramfs', 'squashfs',
]);

/** mountinfo escapes space, tab, newline and backslash as \\ooo. */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export interface MountLine {
  readonly mountPoint: string;
  readonly type: string;
  readonly device: string;
}

/**
 * The mounts of /proc/self/mountinfo (`ID PARENT MAJ:MIN ROOT MOUNTPOINT
 * OPTIONS [OPTIONAL…] - TYPE SOURCE SUPEROPTIONS`), pseudo file systems
 * left out, each mount point once (the last mount over it wins).
 */
export function parseMountInfo(text: string): MountLine[] {
  const byPoint = new Map<string, MountLine>();
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    if (dash < 0 || fields.length < dash + 3) continue;
    const type = fields[dash + 1]!;
    if (PSEUDO_FILE_SYSTEMS.has(type)) continue;
    const mountPoint = unescapeMountField(fields[4]!);
    if (!mountPoint.startsWith('/')) continue;
    byPoint.delete(mountPoint);
    byPoint.set(mountPoint, { mountPoint, type, device: unescapeMountField(fields[dash + 2]!) });
  }
  return [...byPoint.values()];
}

export async function fileSystemsOf(mountInfo = '/proc/self/mountinfo'): Promise<DiscoveredFileSystem[]> {
  const mounts = parseMountInfo(await readFile(mountInfo, 'utf8').catch(() => ''));
  const out: DiscoveredFileSystem[] = [];
  for (const m of mounts) {
    const s = await statfs(m.mountPoint).catch(() => null);
    if (s === null || s.blocks === 0) continue; // gone since, or holds nothing
    out.push({ ...m, sizeBytes: s.blocks * s.bsize, usedBytes: (s.blocks - s.bfree) * s.bsize });
  }
  return out.sort((a, b) => (a.mountPoint < b.mountPoint ? -1 : 1)).slice(0, MAX_DISCOVERED);
}

export interface DiscoverOptions {
  /** Socket directories beyond the defaults (`custos agent start --pg-socket-dir`). */
  readonly pgSocketDirs?: readonly string[];
  /** For tests: pg_lsclusters' clusters instead of running it. */
  readonly listed?: readonly ListedCluster[];
}

export async function discover(options: DiscoverOptions = {}): Promise<DiscoverAnswer> {
  const [fileSystems, clusters] = await Promise.all([
    fileSystemsOf(),
    findClusters({ socketDirs: socketDirsWith(options.pgSocketDirs), ...(options.listed ? { listed: options.listed } : {}) }),
  ]);
  return { kind: 'discover', fileSystems, instances: clusters.instances.slice(0, MAX_DISCOVERED), problems: clusters.problems.slice(0, MAX_DISCOVERED) };
}
