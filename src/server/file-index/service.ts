/**
 * Keeps the file index in line with the catalog: every recovery point of
 * the catalog (never replica-only synchronization points, which recoveries
 * never use and pruning soon removes) is indexed, and nothing else is.
 * Indexing runs in the background: after a commit, after pruning, and at
 * start for points the index does not hold yet (points from before the
 * index existed, a rebuilt index, a restored catalog). A question about a
 * point not yet indexed waits for that point only.
 */
import { errorMessage } from '../../base/index.js';
import type { Catalog } from '../../catalog/index.js';
import type { FileIndex } from './file-index.js';
import type { PointRef } from './types.js';

export class FileIndexService {
  private pending = new Set<string>();
  private running: Promise<void> | null = null;
  private everything = false;

  constructor(
    readonly index: FileIndex,
    private readonly catalog: Catalog,
    private readonly log: (message: string, level?: string) => void,
  ) {}

  /** The recovery points of a data source, oldest first: what browse, search and versions look at. */
  async points(sourceId: string): Promise<PointRef[]> {
    return (await this.catalog.listPoints(sourceId, true)).map((p) => ({ id: p.id, time: p.time, source: sourceId }));
  }

  /** The points of one data source changed (a commit, a prune): brings its index up to date soon. */
  sourceChanged(sourceId: string): void {
    this.pending.add(sourceId);
    this.run();
  }

  /** Every data source: at start, after a resync or a catalog restore. */
  everythingChanged(): void {
    this.everything = true;
    this.run();
  }

  /** Resolves when the work asked for so far is done (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async close(): Promise<void> {
    this.pending.clear();
    this.everything = false;
    await this.index.close();
    await this.running?.catch(() => undefined);
  }

  private run(): void {
    if (this.running) return;
    this.running = (async () => {
      try {
        while (this.everything || this.pending.size > 0) {
          if (this.everything) {
            this.everything = false;
            this.pending.clear();
            await this.reconcileAll();
          } else {
            const [source] = this.pending;
            this.pending.delete(source!);
            await this.reconcileSource(source!);
          }
        }
      } catch (err) {
        if ((err as { code?: string }).code !== 'cancelled') this.log(`file index: ${errorMessage(err)}`, 'error');
      } finally {
        this.running = null;
      }
    })();
  }

  /** Trees of files only: an application point (a postgres cluster) is recovered whole, never browsed. */
  private async reconcileSource(sourceId: string): Promise<void> {
    const s = await this.catalog.source(sourceId);
    if (s && s.kind !== 'fs') return; // (a source gone is synced: that forgets it)
    await this.index.syncSource(sourceId);
  }

  private async reconcileAll(): Promise<void> {
    const started = Date.now();
    const sources = (await this.catalog.listSources()).filter((s) => s.kind === 'fs').map((s) => s.id);
    let added = 0;
    let removed = await this.index.forgetSourcesExcept(sources);
    for (const s of sources) {
      const r = await this.index.syncSource(s);
      added += r.added;
      removed += r.removed;
    }
    if (added + removed > 0) this.log(`file index: ${added} recovery point(s) indexed, ${removed} forgotten in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}
