/**
 * agent: what runs on a protected computer — the backup pipeline (walk,
 * change detection against the previous recovery point, chunking, hashing,
 * compression and encryption on worker threads) and the restore pipeline
 * (path safety, parallel verified writes). It reaches storage only through
 * the interfaces it declares, ChunkSink and ChunkSource, so the same code
 * fills a local pool (standalone mode) or, later, the server over the network.
 * Depends on base, format (and protocol, protection when they exist).
 */
export { runBackup, makeExcluder, type BackupOptions, type BackupResult, type ChunkSink, type ItemError } from './backup/backup.js';
export { runRestore, type ChunkSource, type RestoreOptions, type RestoreResult } from './restore/restore.js';
export { checkItemsExist, findMissingItems, missingItemsError, resolveItem, resolveItems, type RequestedItem } from './restore/items.js';
export type { ConflictMode, SecurityMode } from './restore/messages.js';
export { resolveTarget } from './restore/fs-safe.js';
export { attachAgent, type AttachOptions } from './remote/attach.js';
export { AgentRuntime, AGENT_VERSION, type AgentRuntimeOptions } from './remote/agent-runtime.js';
export { MemoryTrimmer, trimMemory } from './memory.js';
