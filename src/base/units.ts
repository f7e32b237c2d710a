/**
 * Sizes and percentages as people type them ("500GiB", "2TB", "1.5TiB",
 * "5%"), for every command and call that takes one: the throttle's rates,
 * the storage calculator. Like parseDuration (clock.ts), each returns
 * undefined for text it cannot read, and the caller says what it expected.
 */

/** Decimal units are powers of 1000 (as disks are sold), binary ones (KiB…) powers of 1024; k, m, g, t, p alone are decimal. */
const SIZE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12, p: 1e15, pb: 1e15,
  kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4, pib: 1024 ** 5,
};

/** "500GiB", "2TB", "1.5 TiB", "4096" (bytes), case-insensitive → whole bytes (rounded down); undefined when malformed. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  if (!m) return undefined;
  const unit = m[2]!.toLowerCase() || 'b';
  if (!Object.hasOwn(SIZE_UNITS, unit)) return undefined;
  return Math.floor(Number(m[1]) * SIZE_UNITS[unit]!);
}

/** "5%", "0.5 %", "5" → 5 (the number of percent, not a fraction); undefined when malformed. Not bounded: callers say what range they take. */
export function parsePercent(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*%?$/.exec(text.trim());
  return m ? Number(m[1]) : undefined;
}
