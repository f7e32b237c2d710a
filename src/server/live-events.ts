/**
 * The server's live events (GET /api/events): which lists changed, so a
 * console fetches them again through its own authorised calls. Changes come
 * from the catalog; a burst (a running job writes its progress many times a
 * second) becomes at most one event per topic per `coalesceMs`, and a
 * follower that cannot keep up is not buffered without bound: an event is
 * only "this changed", so a later one says the same.
 */
import type { Catalog, CatalogTopic } from '../catalog/index.js';
import type { EventFeed, ServerEvent } from '../protocol/rest/index.js';

export interface LiveEventsOptions {
  /** At most one event per topic in this many ms (default 250). */
  readonly coalesceMs?: number;
  /** At most this many followers at once (each holds a connection; default 200). */
  readonly maxFollowers?: number;
}

interface Follower {
  readonly send: (e: ServerEvent) => void;
  readonly end: () => void;
}

export class LiveEvents {
  readonly #followers = new Set<Follower>();
  readonly #pending = new Set<CatalogTopic>();
  readonly #coalesceMs: number;
  readonly #maxFollowers: number;
  readonly #unsubscribe: () => void;
  #timer: NodeJS.Timeout | null = null;

  constructor(catalog: Catalog, options: LiveEventsOptions = {}) {
    this.#coalesceMs = options.coalesceMs ?? 250;
    this.#maxFollowers = options.maxFollowers ?? 200;
    this.#unsubscribe = catalog.onChange((topic) => this.#changed(topic));
  }

  get followers(): number {
    return this.#followers.size;
  }

  /** Whether another follower may start (the caller answers 503 when not). */
  get full(): boolean {
    return this.#followers.size >= this.#maxFollowers;
  }

  feed(): EventFeed<ServerEvent> {
    return {
      follow: (send, end) => {
        const f: Follower = { send, end };
        this.#followers.add(f);
        return () => this.#followers.delete(f);
      },
    };
  }

  /** Ends every stream and stops listening (server shutdown). */
  close(): void {
    this.#unsubscribe();
    if (this.#timer) clearTimeout(this.#timer);
    for (const f of [...this.#followers]) f.end();
    this.#followers.clear();
  }

  #changed(topic: CatalogTopic): void {
    this.#pending.add(topic);
    if (this.#timer || this.#followers.size === 0) {
      if (this.#followers.size === 0) this.#pending.clear();
      return;
    }
    this.#timer = setTimeout(() => this.#flush(), this.#coalesceMs);
    this.#timer.unref();
  }

  #flush(): void {
    this.#timer = null;
    const topics = [...this.#pending];
    this.#pending.clear();
    for (const topic of topics) for (const f of this.#followers) f.send({ changed: topic });
  }
}
