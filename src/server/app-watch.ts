/**
 * The lag watch of PostgreSQL data sources (docs/design/postgresql.md
 * §5.6): a data source's replication slot keeps on its cluster every byte
 * of WAL no synchronization has taken yet; when synchronizations stop (the
 * pool full, jobs failing, the server away) that grows until the cluster's
 * disk is full. Every few minutes the server asks the agent how much the
 * slot holds, and raises `log-retained` before it holds more than the
 * configured amount (resolved once it is below again).
 */
import { errorMessage, type Clock } from '../base/index.js';
import type { Catalog } from '../catalog/index.js';
import { formatBytes } from '../protocol/rest/present.js';
import type { ScheduledSource } from '../jobs/index.js';
import type { AgentHub } from './agent-hub.js';
import type { AlertService } from './alerts.js';
import { slotNameOf } from './source-id.js';

/** The default amount of WAL a slot may hold before the alert: 4 GiB. */
export const DEFAULT_SLOT_ALERT_BYTES = 4 * 1024 ** 3;
/** How often each source's slot is looked at. */
export const SLOT_WATCH_MS = 5 * 60_000;
const ASK_TIMEOUT_MS = 30_000;

export interface SlotWatchDeps {
  readonly catalog: Catalog;
  readonly hub: AgentHub;
  readonly alerts: AlertService;
  readonly clock: Clock;
  readonly log: (message: string) => void;
  /** Alert when a slot holds at least this many bytes. */
  readonly alertBytes: number;
}

export class SlotWatch {
  private readonly lastAsked = new Map<string, number>();
  private readonly asking = new Set<string>();

  constructor(private readonly d: SlotWatchDeps) {}

  /** Called each scheduler minute with the scheduled sources: asks about the slots not looked at for SLOT_WATCH_MS (never waits for the answers). */
  tick(sources: readonly ScheduledSource[], now: Date): void {
    for (const s of sources) {
      if (s.app !== 'logs' || this.asking.has(s.id)) continue;
      const last = this.lastAsked.get(s.id);
      if (last !== undefined && now.getTime() - last < SLOT_WATCH_MS) continue;
      if (!this.d.hub.get(s.agent)?.kinds.has('postgres')) continue;
      this.lastAsked.set(s.id, now.getTime());
      this.asking.add(s.id);
      void this.look(s.id).finally(() => this.asking.delete(s.id));
    }
  }

  private async look(id: string): Promise<void> {
    try {
      const s = await this.d.catalog.source(id);
      if (!s || s.kind !== 'postgres' || s.group_name === null) return;
      const slot = slotNameOf(s);
      const a = await this.d.hub.ask(s.agent, { kind: 'slot-status', port: Number(s.path), slot }, ASK_TIMEOUT_MS);
      const now = this.d.clock.now();
      if (a.retainedBytes !== null && a.retainedBytes >= this.d.alertBytes) {
        await this.d.alerts.raise('log-retained', id, `the replication slot ${slot} of ${id} holds ${formatBytes(a.retainedBytes)} of WAL on the cluster (the alert is at ${formatBytes(this.d.alertBytes)}): its log synchronizations are not taking it`, now);
      } else {
        await this.d.alerts.resolve('log-retained', id, now);
      }
    } catch (err) {
      // The agent away or the cluster down: other alerts say so; the next look tries again.
      this.d.log(`lag watch of ${id}: ${errorMessage(err)}`);
    }
  }
}
