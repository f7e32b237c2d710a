/** Progress on a TTY: one line redrawn at most five times a second; nothing when not a TTY. */
import type { ProgressSink } from '../base/index.js';

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

export function ttyProgress(label: string, enabled: boolean): ProgressSink & { end(): void } {
  const stream = process.stderr;
  if (!enabled || !stream.isTTY) return { update: () => {}, end: () => {} };
  let last = 0;
  let drawn = false;
  return {
    update(state) {
      const now = Date.now();
      if (now - last < 200) return;
      last = now;
      const parts = Object.entries(state).map(([k, v]) => (typeof v === 'number' && /bytes/i.test(k) ? `${k} ${formatBytes(v)}` : `${k} ${v}`));
      stream.write(`\r\x1b[K${label}: ${parts.join(', ')}`);
      drawn = true;
    },
    end() {
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}
