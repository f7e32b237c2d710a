/**
 * journal: the change journal of an `fs` data source — which paths changed
 * since the last synchronization, recorded by a file system watcher
 * (@parcel/watcher, inotify on Linux) and checked before every use, so a
 * synchronization of a large, mostly unchanged tree looks only at what
 * changed (runBackup's `changes`). Depends on base and on the backup
 * pipeline's ChangeSet type.
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
export type { ChangeSet } from '../backup/walker.js';
