/**
 * When a PostgreSQL data source leaves protection, its replication slot goes
 * too (docs/design/postgresql.md §5.2): nothing will read that WAL again,
 * and a slot nobody reads keeps WAL on the production cluster until its disk
 * fills. The server asks the source's agent to drop it (the `release`
 * question); when it cannot (the agent away, the cluster down), an alert
 * names the slot and the SQL that drops it by hand.
 */
import { errorMessage, type Clock } from '../base/index.js';
import type { Catalog } from '../catalog/index.js';
import type { AgentHub } from './agent-hub.js';
import type { AlertService } from './alerts.js';
import { slotNameOf } from './source-id.js';

export interface ReleaseDeps {
  readonly catalog: Catalog;
  readonly hub: AgentHub;
  readonly alerts: AlertService;
  readonly clock: Clock;
  readonly log: (message: string) => void;
}

/** How long the agent may take to drop a slot. */
const RELEASE_TIMEOUT_MS = 30_000;

/** Drops the slots of the PostgreSQL data sources among `sourceIds` that are in no group now; never throws. */
export async function releaseSlots(d: ReleaseDeps, sourceIds: readonly string[]): Promise<void> {
  for (const id of sourceIds) {
    try {
      await releaseOne(d, id);
    } catch (err) {
      d.log(`${id} left protection; its replication slot was not released: ${errorMessage(err)}`);
    }
  }
}

/** One source: its agent drops the slot, or an alert says how to. */
async function releaseOne(d: ReleaseDeps, id: string): Promise<void> {
  const s = await d.catalog.source(id);
  if (!s || s.kind !== 'postgres' || s.group_name !== null) return;
  const slot = slotNameOf(s);
  try {
    const a = await d.hub.ask(s.agent, { kind: 'release', port: Number(s.path), slot }, RELEASE_TIMEOUT_MS);
    d.log(`${id} left protection: its replication slot ${slot} ${a.dropped ? 'was dropped' : 'was not there'}`);
    await d.alerts.resolve('log-slot-kept', id, d.clock.now());
  } catch (err) {
    await d.alerts.raise('log-slot-kept', id, `${id} left protection, but its replication slot ${slot} could not be dropped (${errorMessage(err)}): drop it on the cluster: SELECT pg_drop_replication_slot('${slot}')`, d.clock.now());
  }
}
