/**
 * format: everything with a byte layout on disk or on the wire — the chunker,
 * the blob codec (zstd + AES-256-GCM), keys, manifests, packs, indexes and
 * recovery point objects. Normative description: docs/design/pool-format.md.
 * Depends on base only (plus node:crypto and zstd).
 */
export * from './binary.js';
export * from './chunker.js';
export * from './codec.js';
export * from './keys.js';
export * from './manifest.js';
export * from './manifest-pages.js';
export * from './pack.js';
export * from './point.js';
export * from './postgres/point-meta.js';
export * from './postgres/wal-chain.js';
export * from './pool-config.js';
export * from './catalog-backup.js';
export * from './archive-entry.js';
export * from './tar.js';
export * from './zip.js';
