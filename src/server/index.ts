/**
 * server: the protection server and the wiring root — catalog, storage pool,
 * agent endpoint (mutual TLS), job engine and scheduler, REST API (routes
 * under routes/ mirror URL paths), alerts and /metrics. It may import every
 * layer; nothing imports it but the CLI's `server start`.
 */
export { startServer, readAdminToken, SERVER_VERSION, type RunningServer, type ServerOptions } from './server.js';
export { scaledClockFromEnv } from './test-clock.js';
export { listCatalogBackups, restoreCatalog, resyncServerCatalog, type RestoreResult } from './catalog-admin.js';
export { changedSomething, type ResyncReport } from './resync.js';
