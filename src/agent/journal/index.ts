/**
 * journal: the change journal of an `fs` data source — which paths changed
 * since the last synchronization, recorded by TreeWatcher (tree-watcher.ts,
 * a recursive watcher over our own inotify binding in inotify.ts and
 * native/inotify) and checked before every use, so a synchronization of a
 * large, mostly unchanged tree looks only at what changed (runBackup's
 * `changes`). Depends on base and on the backup pipeline's ChangeSet type.
 */
export {
  FsChangeJournal,
  JOURNAL_FILES,
  journalStateDir,
  mountsAtOrBelow,
  pathIdentity,
  type CommitOptions,
  type FsChangeJournalOptions,
  type JournalChanges,
  type JournalMarker,
} from './change-journal.js';
export {
  LOST_NO_WATCHES,
  LOST_OVERFLOW,
  LOST_ROOT,
  TreeWatcher,
  type ChangeKind,
  type TreeWatcherOptions,
} from './tree-watcher.js';
export { JournalAudit } from './audit.js';
export type { ChangeSet } from '../backup/walker.js';
