/**
 * Loads our file-system notification binding (native/fsnotify/fsnotify.c,
 * built by node-gyp into build/Release/custos_fsnotify.node when the package
 * is installed): the Inotify and Fanotify classes that inotify.ts and
 * fanotify.ts wrap. Linux only; elsewhere the module exports neither.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Called once per read() of the descriptor with its bytes, or with the error that ended reading. */
export type NativeCallback = (err: Error | null | undefined, buf: Buffer | undefined) => void;

export interface NativeNotifier {
  close(): void;
  ref(): void;
  unref(): void;
}

export interface NativeInotify extends NativeNotifier {
  addWatch(path: Buffer, mask: number): number;
  rmWatch(wd: number): void;
}

export interface NativeFanotify extends NativeNotifier {
  /** Marks the file system holding `path`; returns its fsid (hex). */
  mark(path: Buffer, mask: number): string;
  /** Delivers every queued event before returning. */
  drain(): void;
}

export interface NativeBinding {
  Inotify?: new (callback: NativeCallback) => NativeInotify;
  Fanotify?: new (callback: NativeCallback) => NativeFanotify;
  /** SO_PEERCRED of a connected Unix socket (end-user recovery: src/agent/user/peer.ts). */
  peerCredentials?: (fd: number) => { pid: number; uid: number; gid: number };
  /** malloc_trim(0) where the C library is glibc (src/agent/memory.ts). */
  trimMemory?: () => boolean;
}

/** The directory above `from` that holds package.json (the package root, from src/ or dist/src/ alike). */
function packageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package root (package.json with binding.gyp) above ${from}`);
  }
}

let binding: NativeBinding | undefined;

export function loadBinding(): NativeBinding {
  if (binding === undefined) {
    const root = packageRoot(dirname(fileURLToPath(import.meta.url)));
    const file = join(root, 'build', 'Release', 'custos_fsnotify.node');
    if (!existsSync(file)) throw new Error(`the file-system notification binding is not built (${file}): run npm ci, or npm run build:native`);
    binding = createRequire(import.meta.url)(file) as NativeBinding;
  }
  return binding;
}

/**
 * What Inotify and Fanotify share: one native instance whose reads arrive
 * as `onData(buf)` (or `onError`) until close(), after which nothing does.
 */
export class Notifier<N extends NativeNotifier> {
  protected readonly native: N;
  private open = true;

  constructor(kind: 'Inotify' | 'Fanotify', onData: (buf: Buffer) => void, onError: (err: Error) => void) {
    const Native = loadBinding()[kind] as (new (callback: NativeCallback) => N) | undefined;
    if (Native === undefined) throw new Error(`${kind.toLowerCase()} is available on Linux only`);
    this.native = new Native((err, buf) => {
      if (!this.open) return;
      if (err) onError(err);
      else if (buf) onData(buf);
    });
  }

  /** Closes the instance; no callback runs afterwards. Idempotent. */
  close(): void {
    this.open = false;
    this.native.close();
  }

  get closed(): boolean {
    return !this.open;
  }

  /** Keep the event loop alive while open (the default). */
  ref(): void {
    this.native.ref();
  }

  /** Let the process exit although the instance is open. */
  unref(): void {
    this.native.unref();
  }
}
