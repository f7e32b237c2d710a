/**
 * The audit log: who did what, when. Every call that changes something
 * (recoveries, tokens, enrollments, group changes, on-demand jobs …) and every
 * denied request is written to the catalog before its answer leaves the
 * server, so it is also in every catalog backup. Details are bounded and
 * never hold a secret (tokens, enrollment secrets and certificate requests
 * are not recorded). Denied requests are limited to a number a minute, the
 * rest counted in one summary line, so an anonymous caller cannot fill the
 * catalog.
 */
import { errorMessage, type Clock } from '../base/index.js';
import type { Catalog } from '../catalog/index.js';

const MAX_DETAIL = 2000;
const MAX_FIELD = 500;
const DENIED_PER_MINUTE = 60;

export interface AuditEntryInput {
  readonly actor: string;
  readonly role: string | null;
  readonly action: string;
  readonly target: string | null;
  readonly outcome: 'ok' | 'denied' | 'failed';
  readonly detail?: Readonly<Record<string, unknown>>;
  readonly address: string | null;
}

export class AuditLog {
  private minute = '';
  private deniedThisMinute = 0;
  private suppressed = 0;

  constructor(
    private readonly catalog: Catalog,
    private readonly clock: Clock,
    private readonly log: (message: string) => void,
  ) {}

  /**
   * Writes one entry; a failure to write is logged, never thrown at the
   * caller. `always`: a denial that is written even beyond the limit (for
   * events bounded by themselves, such as a lockout).
   */
  async record(e: AuditEntryInput, options: { always?: boolean } = {}): Promise<void> {
    if (e.outcome === 'denied' && !options.always && !this.admitDenied()) return;
    await this.write(e);
  }

  private admitDenied(): boolean {
    const minute = this.clock.now().toISOString().slice(0, 16);
    if (minute !== this.minute) {
      const dropped = this.suppressed;
      this.minute = minute;
      this.deniedThisMinute = 0;
      this.suppressed = 0;
      if (dropped > 0) {
        void this.write({ actor: 'server', role: null, action: 'denied.suppressed', target: null, outcome: 'denied', detail: { count: dropped }, address: null });
      }
    }
    if (this.deniedThisMinute >= DENIED_PER_MINUTE) {
      this.suppressed++;
      return false;
    }
    this.deniedThisMinute++;
    return true;
  }

  private async write(e: AuditEntryInput): Promise<void> {
    try {
      await this.catalog.appendAudit({
        time: this.clock.now().toISOString(),
        actor: clip(e.actor),
        role: e.role,
        action: clip(e.action),
        target: e.target === null ? null : clip(e.target),
        outcome: e.outcome,
        detail: boundedJson(e.detail ?? {}),
        address: e.address === null ? null : clip(e.address),
      });
    } catch (err) {
      this.log(`audit log: cannot write ${e.action} by ${e.actor}: ${errorMessage(err)}`);
    }
  }
}

function clip(s: string): string {
  return s.length > MAX_FIELD ? `${s.slice(0, MAX_FIELD)}…` : s;
}

/** JSON of `detail`, strings clipped, and the whole at most MAX_DETAIL characters. */
export function boundedJson(detail: Readonly<Record<string, unknown>>): string {
  const text = JSON.stringify(detail, (_k, v: unknown) => (typeof v === 'string' ? clip(v) : v));
  return text.length > MAX_DETAIL ? JSON.stringify({ truncated: text.slice(0, MAX_DETAIL - 40) }) : text;
}
