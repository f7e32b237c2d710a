/**
 * base: errors with codes, branded ids, the clock and progress interfaces,
 * sizes and percentages as people type them.
 * It imports nothing of ours and no node:* module, so it runs everywhere.
 */
export * from './errors.js';
export * from './ids.js';
export * from './clock.js';
export * from './units.js';
export * from './progress.js';
export * from './known-ids.js';
export * from './iso-time.js';
export * from './point-ref.js';
