/**
 * pool: the storage pool — chunk store over a BlobStore (local directory
 * now; S3 and memory later), the index, recovery point objects, locks,
 * verify, garbage collection, statistics and the catalog backups kept in the
 * pool. Depends on base and format.
 */
export * from './blob-store.js';
export * from './locks.js';
export * from './pool.js';
export * from './chunk-writer.js';
export * from './activity.js';
export * from './verify.js';
export * from './gc.js';
export * from './stats.js';
export * from './layout.js';
export * from './catalog-backups.js';
