/**
 * Disk allocation per data source: the quota it may use in the storage pool,
 * how full it is, and how auto-grow enlarges it.
 *
 * The default follows DPM's "How DPM calculates default space allocations"
 * for file data (DPM 2007 planning guide, TechNet bb795684):
 *   replica volume        = data size × 3 / 2
 *   recovery point volume = data size × retention days × 2 / 100 + 1600 MB
 * i.e. a 2 % daily change rate. The seeds give the same shape as a rule of
 * thumb (seeds/003, "Sizing the Replica and Recovery Point Volumes", line
 * 4927: replica = the data plus at least a day of changes, RPV = N days × Dc,
 * and product.md section 9). We keep DPM's 1.5× replica rather than "data +
 * one day": a fresh replica then fills about 60 % of its quota instead of
 * starting above the 80 % warning, and growth is left to auto-grow.
 * The pool is deduplicated, so the quota is a limit, not space set aside.
 */

/** DPM's default for file data: 2 % of the data changes a day. */
export const DEFAULT_DAILY_CHANGE_RATE = 0.02;

/** DPM adds 1600 MB to every recovery point volume so small data sources still get room. */
export const RECOVERY_POINT_ALLOWANCE_BYTES = 1600 * 1024 * 1024;

/** defaultAllocation in words, for people choosing a policy (the console's group wizard). */
export const ALLOCATION_RULE =
  'each data source gets DPM\'s default once its size is known (at its first replica): 1.5 × its size for the replica, plus retention days × 2 % of its size and 1,600 MiB for recovery points; it grows by 25 % on its own when 90 % is used, and alerts warn at 80 % and 95 %. The pool is deduplicated: the allocation is a limit, not space set aside.';

export const ALLOCATION_WARNING_FRACTION = 0.8;
export const ALLOCATION_CRITICAL_FRACTION = 0.95;
/** Auto-grow starts at 90 % used and leaves the data source at most 75 % used. */
export const AUTO_GROW_AT_FRACTION = 0.9;
export const AUTO_GROW_FACTOR = 1.25;
export const AUTO_GROW_TARGET_FRACTION = 0.75;

export interface AllocationInput {
  /** Bytes of protected data (the data source's size now). */
  readonly dataBytes: number;
  /** Fraction of the data that changes a day; DEFAULT_DAILY_CHANGE_RATE (0.02) when omitted. */
  readonly dailyChangeRate?: number;
  readonly retentionDays: number;
}

/** Default quota in bytes (whole bytes, rounded up): replica plus recovery point space, as DPM allocates for file data. */
export function defaultAllocation(input: AllocationInput): number {
  const rate = input.dailyChangeRate ?? DEFAULT_DAILY_CHANGE_RATE;
  const data = Math.max(0, input.dataBytes);
  const replica = (data * 3) / 2;
  const recoveryPoints = data * input.retentionDays * rate + RECOVERY_POINT_ALLOWANCE_BYTES;
  return Math.ceil(replica + recoveryPoints);
}

export type AllocationLevel = 'ok' | 'warning' | 'critical';

/** ≥ 95 % used → critical, ≥ 80 % → warning (the thresholds of DPM's disk-threshold alerts). */
export function allocationLevel(usedBytes: number, allocatedBytes: number): AllocationLevel {
  if (allocatedBytes <= 0) return usedBytes > 0 ? 'critical' : 'ok';
  const fraction = usedBytes / allocatedBytes;
  if (fraction >= ALLOCATION_CRITICAL_FRACTION) return 'critical';
  if (fraction >= ALLOCATION_WARNING_FRACTION) return 'warning';
  return 'ok';
}

/**
 * Auto-grow: when used ≥ 90 % of the allocation, the new allocation is the
 * larger of allocation × 1.25 and used / 0.75 (rounded up to whole bytes);
 * otherwise the allocation is unchanged.
 */
export function grownAllocation(usedBytes: number, allocatedBytes: number): number {
  if (usedBytes < allocatedBytes * AUTO_GROW_AT_FRACTION) return allocatedBytes;
  return Math.ceil(Math.max(allocatedBytes * AUTO_GROW_FACTOR, usedBytes / AUTO_GROW_TARGET_FRACTION));
}

/**
 * Growing an allocation by hand (an alert's button, `custos source
 * allocate --grow`): as auto-grow does, but whatever the use — the larger of
 * allocation × 1.25 and used / 0.75.
 */
export function grownByHand(usedBytes: number, allocatedBytes: number): number {
  return Math.ceil(Math.max(allocatedBytes * AUTO_GROW_FACTOR, usedBytes / AUTO_GROW_TARGET_FRACTION));
}
