/**
 * The catalogue of alert kinds: severity, title and the recommended action
 * shown with every alert (product.md section 6). Pure data; raising and
 * resolving alerts by condition is the server's job. SOURCE, AGENT and JOB in
 * an action are placeholders that recommendedAction fills in: the alert's
 * subject, and the id of the job the alert is about.
 */

export type AlertKind =
  | 'sync-failed'
  | 'recovery-point-missed'
  | 'replica-inconsistent'
  | 'agent-disconnected'
  | 'allocation-warning'
  | 'allocation-critical'
  | 'disk-full'
  | 'pool-damaged'
  | 'log-slot-kept'
  | 'log-gap'
  | 'log-consumer'
  | 'log-retained';

export type AlertSeverity = 'critical' | 'warning' | 'info';

/** What the console's button of an alert does to its subject (a data source): the recommended action's first remedy. */
export type AlertAction = 'sync' | 'recovery-point' | 'consistency-check' | 'grow-allocation';

export interface AlertKindInfo {
  readonly severity: AlertSeverity;
  readonly title: string;
  readonly recommendedAction: string;
  readonly action?: AlertAction;
}

/** The one-click action of an alert of `kind` (unknown kinds from an older catalog: none). */
export function alertAction(kind: string): AlertAction | null {
  return (ALERT_KINDS as Readonly<Record<string, AlertKindInfo | undefined>>)[kind]?.action ?? null;
}

/** An agent is reported disconnected after this long without contact, so a reboot does not raise an alert. */
export const AGENT_DISCONNECTED_ALERT_MS = 30 * 60_000;

/** A scheduled recovery point still waiting to start this long after it was due is reported missed. */
export const POINT_LATE_ALERT_MS = 60 * 60_000;

/**
 * Whether a job's error says a disk is full: the server's pool (ENOSPC,
 * EDQUOT) or a disk of the agent that reported it. Such a failure is worth
 * retrying, and worth telling someone while it is.
 */
export function isDiskFullError(message: string): boolean {
  return /\b(ENOSPC|EDQUOT)\b|no space left on device|disk quota exceeded/i.test(message);
}

/**
 * The recommended action of an alert of `kind` about `subject` (a data
 * source, an agent) and, when there is one, `job`: no placeholder is left in
 * what an administrator reads. Without a job, "custos job show JOB" becomes
 * the list of the subject's jobs.
 */
export function recommendedAction(kind: AlertKind, subject: string, job: number | null = null): string {
  let action = ALERT_KINDS[kind].recommendedAction;
  if (job === null) action = action.replaceAll('custos job show JOB', 'custos job list --source SOURCE');
  // One pass, so a subject that happens to contain "JOB" is not filled in again.
  return action.replace(/\b(?:SOURCE|AGENT|JOB)\b/g, (word) => (word === 'JOB' ? String(job) : subject));
}

export const ALERT_KINDS: Readonly<Record<AlertKind, AlertKindInfo>> = Object.freeze({
  'sync-failed': {
    severity: 'critical',
    title: 'Synchronization failed',
    recommendedAction:
      'See the failed job\'s log (custos job show JOB) and fix the cause; synchronization retries at the next interval, or run it now: custos sync SOURCE',
    action: 'sync',
  },
  'recovery-point-missed': {
    severity: 'critical',
    title: 'Recovery point not created',
    recommendedAction:
      'See the job\'s log (custos job show JOB) and fix the cause (a failed job, or an agent that is not connected), then create a recovery point now: custos point create SOURCE',
    action: 'recovery-point',
  },
  'replica-inconsistent': {
    severity: 'critical',
    title: 'Replica is inconsistent',
    recommendedAction: 'Run a consistency check: custos check SOURCE',
    action: 'consistency-check',
  },
  'agent-disconnected': {
    severity: 'warning',
    title: 'Protection agent unreachable',
    recommendedAction:
      'Check that the computer is on and `custos agent start` runs there; it reconnects by itself',
  },
  'allocation-warning': {
    severity: 'warning',
    title: 'Disk allocation 80% used',
    recommendedAction:
      'Grow the data source\'s disk allocation (custos source allocate SOURCE --grow), shorten the retention range or exclude data; auto-grow acts at 90%',
    action: 'grow-allocation',
  },
  'allocation-critical': {
    severity: 'critical',
    title: 'Disk allocation 95% used',
    recommendedAction:
      'Grow the data source\'s disk allocation now (custos source allocate SOURCE --grow), or synchronizations and recovery points fail when it is full; add storage to the pool if the pool is full too',
    action: 'grow-allocation',
  },
  'disk-full': {
    severity: 'warning',
    title: 'Disk full: a job is retrying',
    recommendedAction:
      'Free space on the disk named in the message (the storage pool\'s, or the agent computer\'s when the agent reported it); the job retries by itself and this alert is resolved when it succeeds',
  },
  'pool-damaged': {
    severity: 'critical',
    title: 'Recovery points damaged in the storage pool',
    recommendedAction:
      'Check the pool\'s disks; run a consistency check of SOURCE (custos check SOURCE) so the damaged data is stored again and the named recovery points become whole, then verify the pool: custos pool verify --wait',
    action: 'consistency-check',
  },
  'log-slot-kept': {
    severity: 'warning',
    title: 'Replication slot left on a cluster',
    recommendedAction:
      'SOURCE left protection, but its replication slot could not be dropped (its agent away, or the cluster down): it keeps WAL on that cluster, which can fill its disk. Drop it there as the message says (SELECT pg_drop_replication_slot(…)), then resolve this alert (custos alert resolve ID)',
  },
  'log-gap': {
    severity: 'critical',
    title: 'Log chain broken: some times cannot be recovered',
    recommendedAction:
      'The message names the damaged points and the times that cannot be recovered to the minute. The check that found it makes an express full, which protects SOURCE from then on (if that failed, run a consistency check again: custos check SOURCE). Find out how data went missing from the pool (its disks; custos pool verify --wait). This alert is resolved by the first check that finds every retained point whole (the damaged ones expired or deleted)',
    action: 'consistency-check',
  },
  'log-consumer': {
    severity: 'warning',
    title: 'Log not synchronized: express fulls only',
    recommendedAction:
      'SOURCE can be recovered only to its express fulls, not to any time between them: its log is taken by another tool (one log consumer per cluster), or the cluster cannot give it (the message says which). Stop the other tool\'s archiving (archive_command, its replication slot) or change the setting named, then make an express full (custos point create SOURCE): this alert is resolved when an express full synchronizes the log again',
    action: 'recovery-point',
  },
  'log-retained': {
    severity: 'warning',
    title: 'Replication slot holds much WAL',
    recommendedAction:
      'The cluster of SOURCE keeps the WAL its log synchronizations have not taken yet, and its disk can fill: see why they do not run or fail (custos job list --source SOURCE), fix it, and synchronize now: custos sync SOURCE. The alert is resolved when the slot holds less than the amount set by custos server start --slot-alert',
    action: 'sync',
  },
});
