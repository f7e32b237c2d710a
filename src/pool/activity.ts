/**
 * What the writers and readers inside this process are doing with the pool,
 * so that garbage collection can run beside them (docs/design/concurrency.md,
 * "gc inside the server"). Other processes are kept out by the pool lock;
 * this covers the jobs of the one process that holds the pool:
 *
 * - a writer (a ChunkWriter of a running backup) records the packs of the
 *   chunks it was told the pool already holds ("touched"): its point will
 *   reference them without sending them, so gc must neither remove nor
 *   repack those packs while the writer lives;
 * - a writer's packs that are durable but not yet named by an index object
 *   ("pending") are not leftovers;
 * - a pinned recovery point (the previous point a backup reuses, the point a
 *   recovery reads) is marked live even if it is deleted meanwhile.
 */
import type { RecoveryPointRecord } from '../format/index.js';

export interface WriterTrack {
  /** Packs holding chunks this writer reused instead of storing. */
  readonly touched: Set<string>;
  /** Packs this writer made durable that no index object names yet. */
  readonly pending: Set<string>;
  close(): void;
}

export class PoolActivity {
  private readonly writers = new Set<WriterTrack>();
  private readonly pins = new Map<number, RecoveryPointRecord>();
  private nextPin = 1;

  registerWriter(): WriterTrack {
    const track: WriterTrack = {
      touched: new Set(),
      pending: new Set(),
      close: () => {
        this.writers.delete(track);
      },
    };
    this.writers.add(track);
    return track;
  }

  /** Keeps `point` live for gc until the returned function is called. */
  pin(point: RecoveryPointRecord): () => void {
    const id = this.nextPin++;
    this.pins.set(id, point);
    return () => {
      this.pins.delete(id);
    };
  }

  pinnedPoints(): RecoveryPointRecord[] {
    return [...this.pins.values()];
  }

  /** Packs some live writer reused chunks from. */
  touchedPacks(): Set<string> {
    const out = new Set<string>();
    for (const w of this.writers) for (const p of w.touched) out.add(p);
    return out;
  }

  /** Packs some live writer wrote that no index names yet. */
  pendingPacks(): Set<string> {
    const out = new Set<string>();
    for (const w of this.writers) for (const p of w.pending) out.add(p);
    return out;
  }

  get writerCount(): number {
    return this.writers.size;
  }
}
