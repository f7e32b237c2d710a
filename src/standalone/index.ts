/**
 * standalone: the wiring of the agent's pipelines to a local storage pool —
 * the standalone mode (protect a directory into a pool with no server, e.g.
 * an air-gapped disk). A wiring root like server/: the only other place that
 * builds concrete pool objects. Depends on base, format, pool and agent.
 */
export * from './backup.js';
export * from './restore.js';
export * from './points.js';
export * from './forget.js';
export * from './maintenance.js';
