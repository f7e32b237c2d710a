/**
 * Paths inside a data source as callers give them and as answers show them.
 * A caller may name an item relative to the protected directory or by its
 * absolute path under it; `base64:…` gives bytes that are not UTF-8. What
 * the index is asked about is always the canonical relative form: no empty,
 * '.' or '..' components, so a path cannot name anything outside the tree.
 */
import { CustosError } from '../../base/index.js';

const MAX_PATH_BYTES = 4096;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function itemPath(sourcePath: string, input: string): Buffer {
  let bytes: Buffer;
  if (input.startsWith('base64:')) {
    const b64 = input.slice('base64:'.length);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) throw new CustosError('usage', `path ${input.slice(0, 80)}: not valid base64`);
    bytes = Buffer.from(b64, 'base64');
  } else {
    bytes = Buffer.from(input, 'utf8');
  }
  if (bytes.includes(0)) throw new CustosError('usage', 'a path cannot contain a NUL byte');
  if (bytes[0] === 0x2f) bytes = underSource(sourcePath, bytes, input);
  const parts = splitBytes(bytes).filter((p) => p.length > 0);
  for (const p of parts) {
    const s = p.toString('latin1');
    if (s === '.' || s === '..') throw new CustosError('usage', `path ${show(input)}: '.' and '..' are not allowed; name the item by its path in the data source`);
  }
  const out = Buffer.concat(parts.flatMap((p, i) => (i === 0 ? [p] : [Buffer.from('/'), p])));
  if (out.length > MAX_PATH_BYTES) throw new CustosError('usage', `path ${show(input)} is longer than ${MAX_PATH_BYTES} bytes`);
  return out;
}

/** The absolute path `bytes`, made relative to the protected directory it must lie in. */
function underSource(sourcePath: string, bytes: Buffer, input: string): Buffer {
  const root = Buffer.from(sourcePath.replace(/\/+$/, ''), 'utf8');
  if (root.length === 0) return bytes; // the data source is / itself
  const next = bytes[root.length];
  if (bytes.subarray(0, root.length).equals(root) && (next === undefined || next === 0x2f)) return bytes.subarray(root.length);
  throw new CustosError('usage', `${show(input)} is not under the protected directory ${sourcePath}: give a path inside it, or one relative to it`);
}

function splitBytes(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= b.length; i++) {
    if (i === b.length || b[i] === 0x2f) {
      out.push(b.subarray(start, i));
      start = i + 1;
    }
  }
  return out;
}

/** How a path or name is shown in JSON: text, and the exact bytes when the text cannot carry them. */
export function pathText(bytes: Buffer): { text: string; base64?: string } {
  try {
    return { text: utf8.decode(bytes) };
  } catch {
    return { text: bytes.toString('utf8'), base64: bytes.toString('base64') };
  }
}

function show(input: string): string {
  return JSON.stringify(input.length > 80 ? `${input.slice(0, 80)}…` : input);
}
