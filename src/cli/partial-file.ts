/**
 * Writing a file the server streams: into FILE.partial, renamed to FILE
 * only when `fill` succeeded and `keep` accepts what it answered; on any
 * failure FILE is as it was (absent, or its old content) and the partial
 * file is gone.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { CustosError, isErrno } from '../base/index.js';

export async function writeWhole<T>(file: string, fill: (sink: WriteStream) => Promise<T>, keep: (result: T) => void = () => undefined, mode = 0o600): Promise<T> {
  const partial = `${file}.partial`;
  let handle;
  try {
    handle = await open(partial, 'w', mode);
  } catch (err) {
    throw new CustosError(isErrno(err, 'ENOENT') ? 'not-found' : 'io', `cannot write ${partial}: ${(err as Error).message}`, { cause: err });
  }
  const sink = createWriteStream('', { fd: handle.fd, autoClose: true });
  try {
    const result = await fill(sink);
    keep(result);
    await rename(partial, file);
    return result;
  } catch (err) {
    sink.destroy();
    await rm(partial, { force: true });
    throw err;
  }
}
