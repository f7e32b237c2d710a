/** The help of the options `recover` (server mode) and `restore` (standalone) share: one text, one default, in both. */
import { DEFAULT_CONFLICT } from '../../protocol/index.js';

export const CONFLICT_HELP =
  `when a different item exists at the target: overwrite it, skip it, or keep-both (write the recovered file beside it as NAME.restored, NAME.restored-2, …); a file identical to the point's is never rewritten or copied (default: ${DEFAULT_CONFLICT})`;
export const SECURITY_HELP =
  "point: give items the point's owners, modes and ACLs; target: new items get what the target directory gives them (umask, default ACL, the writing process's user), existing ones keep theirs (default: point)";
export const THROTTLE_HELP =
  "write at most RATE bytes a second, e.g. 20MiB/s; RATE@DAYS,HH:MM-HH:MM (e.g. 5MiB/s@mon-fri,08:00-18:00) is the rate in that window of the writing computer's local time; repeatable";
