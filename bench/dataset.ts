/** What the runner needs from a dataset; implementations live in *-dataset.ts. */
import type { TreeStats } from './tree-manifest.js';

export type DatasetName = 'linux' | 'image';

export interface ChangeInfo {
  /** What was changed, for the report. */
  readonly description: string;
  readonly filesChanged: number;
  readonly bytesChanged: number;
}

export interface Dataset {
  readonly name: DatasetName;
  readonly description: string;
  /** The directory every tool backs up. */
  readonly root: string;
  readonly stats: TreeStats;
  /**
   * Applies the deterministic "1% changed" edit. An undo journal is written
   * first, so `revert` (or a later run) can put the pristine data back.
   */
  change(): Promise<ChangeInfo>;
  /** Undoes `change`; a no-op when nothing is pending. */
  revert(): Promise<void>;
}
