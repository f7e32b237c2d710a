/**
 * Names and paths of a live directory listing (the `list-dir` question,
 * docs/design/agent-protocol.md "Questions"). A file name is bytes; on the
 * wire it is text a person can read plus, when that text is not the exact
 * bytes, the bytes in base64. The agent makes both with `wireName`, the
 * server's validator checks that they agree with the same function, so no
 * control character, invalid UTF-8 or bidirectional override reaches a
 * terminal or a page, and no two readings of one name exist.
 */

/** The longest name a listing carries (NAME_MAX). */
export const MAX_NAME_BYTES = 255;
/** The longest path a question may name (PATH_MAX). */
export const MAX_LIVE_PATH_CHARS = 4096;
/** Entries of one page of a listing. */
export const MAX_LIST_ENTRIES = 1000;
/** A cursor: base64 of a name's bytes. */
export const MAX_CURSOR_CHARS = 4 * Math.ceil(MAX_NAME_BYTES / 3);

/**
 * Characters shown as U+FFFD: C0 and C1 controls, DEL, line and paragraph
 * separators, and the bidirectional embeddings, overrides and isolates
 * (which can make a listed name read as another).
 */
const UNSHOWABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** The text of a name's bytes people are shown (invalid UTF-8 and unshowable characters as U+FFFD). */
export function displayName(bytes: Uint8Array): string {
  return decoder.decode(bytes).replace(UNSHOWABLE, '\ufffd');
}

/** A name as the wire carries it: its display text, and its bytes in base64 when the text is not exactly them. */
export function wireName(bytes: Uint8Array): { name: string; nameBase64?: string } {
  const name = displayName(bytes);
  return Buffer.from(name, 'utf8').equals(bytes) ? { name } : { name, nameBase64: Buffer.from(bytes).toString('base64') };
}

/** The bytes of a wire name (nameBase64 when present). */
export function nameBytes(e: { readonly name: string; readonly nameBase64?: string | undefined }): Buffer {
  return e.nameBase64 !== undefined ? Buffer.from(e.nameBase64, 'base64') : Buffer.from(e.name, 'utf8');
}

/** A page cursor for a name: base64 of its bytes. */
export function cursorOf(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

/** Base64 decoded only when it is the one canonical spelling of its bytes; else null. */
export function canonicalBase64(text: string): Buffer | null {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  const b = Buffer.from(text, 'base64');
  return b.toString('base64') === text ? b : null;
}

/** Whether `b` can be one name in a directory: 1 … 255 bytes, no '/', no NUL, not `.` or `..`. */
export function isNameBytes(b: Uint8Array): boolean {
  if (b.length === 0 || b.length > MAX_NAME_BYTES || b.includes(0x2f) || b.includes(0)) return false;
  return !(b[0] === 0x2e && (b.length === 1 || (b.length === 2 && b[1] === 0x2e)));
}

/** The name bytes a cursor carries, or null when it is not a cursor. */
export function cursorName(cursor: string): Buffer | null {
  if (cursor.length > MAX_CURSOR_CHARS) return null;
  const b = canonicalBase64(cursor);
  return b && isNameBytes(b) ? b : null;
}

/**
 * Why `p` cannot be the path of a live listing, said for people, or null
 * when it can: absolute, at most 4096 characters, no NUL, no empty, `.` or
 * `..` component (one spelling per directory; nothing is resolved on the
 * way, so what is asked is what is listed).
 */
export function livePathProblem(p: string): string | null {
  if (p.length > MAX_LIVE_PATH_CHARS) return `the path is longer than ${MAX_LIVE_PATH_CHARS} characters`;
  if (p.includes('\0')) return 'the path contains a NUL character';
  if (!p.startsWith('/')) return `the path must be absolute (start with /): ${JSON.stringify(p.slice(0, 200))}`;
  if (p === '/') return null;
  const parts = p.slice(1).split('/');
  if (parts.includes('..')) return `the path must not contain '..': ${JSON.stringify(p.slice(0, 200))}`;
  if (parts.some((c) => c === '' || c === '.')) {
    const clean = '/' + parts.filter((c) => c !== '' && c !== '.').join('/');
    return `the path must be written without empty or '.' components: ${clean}`;
  }
  return null;
}
