/**
 * jobs: the job model (kinds, states, retries), the scheduler tick that
 * derives due work from the catalog's marks, and the dispatch rules (limits
 * per agent and overall). Pure logic; the server runs it against the catalog.
 * Depends on base and protection.
 */
export * from './kinds.js';
export * from './dispatch.js';
export * from './scheduler.js';
export * from './merge.js';
export * from './catalog-backups.js';
