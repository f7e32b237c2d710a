/**
 * protection: the pure domain rules of protection groups — the policy and
 * its validation (retention range, synchronization frequency, recovery point
 * schedule, replica creation, consistency checks), when work is due, which
 * recovery points pruning drops, disk allocation and auto-grow, the storage
 * calculator, and the catalogue of alert kinds. No I/O and no node:* modules: it depends on
 * src/base only, so the server, the agent and the console share one set of
 * rules.
 */
export * from './policy.js';
export * from './schedule.js';
export * from './retention.js';
export * from './allocation.js';
export * from './alerts.js';
export * from './system-targets.js';
export * from './point-at.js';
export * from './throttle.js';
export * from './end-user-access.js';
export * from './storage-plan.js';
export * from './reports.js';
