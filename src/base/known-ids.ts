/**
 * A read-only set of 32-byte chunk ids in a SharedArrayBuffer, so worker
 * threads can skip compressing and encrypting chunks the pool already holds
 * without asking the main thread. Open addressing, linear probing; the ids are
 * uniformly distributed hashes, so their first bytes are a good slot number.
 * An all-zero slot is empty (a real id of 32 zero bytes does not occur).
 */
export class KnownIds {
  private readonly table: Uint8Array;
  private readonly mask: number;

  private constructor(readonly buffer: SharedArrayBuffer) {
    this.table = new Uint8Array(buffer);
    this.mask = this.table.length / 32 - 1;
  }

  /** Builds the table for `count` ids; `each` must call `add` for every id. */
  static build(count: number, each: (add: (id: Uint8Array) => void) => void): KnownIds {
    let slots = 16;
    while (slots < count * 2) slots *= 2;
    const known = new KnownIds(new SharedArrayBuffer(slots * 32));
    each((id) => known.insert(id));
    return known;
  }

  static attach(buffer: SharedArrayBuffer): KnownIds {
    return new KnownIds(buffer);
  }

  private slotOf(id: Uint8Array): number {
    return ((id[0]! | (id[1]! << 8) | (id[2]! << 16) | (id[3]! << 24)) >>> 0) & this.mask;
  }

  private isEmpty(slot: number): boolean {
    const t = this.table;
    const o = slot * 32;
    for (let i = 0; i < 32; i++) if (t[o + i] !== 0) return false;
    return true;
  }

  private equals(slot: number, id: Uint8Array): boolean {
    const t = this.table;
    const o = slot * 32;
    for (let i = 0; i < 32; i++) if (t[o + i] !== id[i]) return false;
    return true;
  }

  private insert(id: Uint8Array): void {
    let s = this.slotOf(id);
    while (!this.isEmpty(s)) {
      if (this.equals(s, id)) return;
      s = (s + 1) & this.mask;
    }
    this.table.set(id.subarray(0, 32), s * 32);
  }

  has(id: Uint8Array): boolean {
    let s = this.slotOf(id);
    while (!this.isEmpty(s)) {
      if (this.equals(s, id)) return true;
      s = (s + 1) & this.mask;
    }
    return false;
  }
}
