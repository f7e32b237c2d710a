/** Progress on a TTY: one line redrawn at most five times a second; nothing when not a TTY. */
import type { ProgressSink } from '../base/index.js';
import { formatBytes } from '../protocol/rest/present.js';

export { formatBytes };

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
