/**
 * Paths inside a data source as callers give them and as answers show them.
 * A caller may name an item relative to the protected directory or by its
 * absolute path under it; `base64:…` gives bytes that are not UTF-8. What
 * the index is asked about is always the canonical relative form: no empty,
 * '.' or '..' components, so a path cannot name anything outside the tree.
 */
import { CustosError } from '../../base/index.js';
import { strictBase64 } from '../../format/index.js';
import { itemBytes } from '../../agent/restore/items.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A path as a REST caller gives it (text, or `base64:…` for raw bytes) in manifest form: itemBytes' rules. */
export function itemPath(sourcePath: string, input: string): Buffer {
  let bytes: Buffer;
  if (input.startsWith('base64:')) {
    const decoded = strictBase64(input.slice('base64:'.length));
    if (decoded === null) throw new CustosError('usage', `path ${show(input)}: not valid base64`);
    bytes = decoded;
  } else {
    bytes = Buffer.from(input, 'utf8');
  }
  return itemBytes(bytes, sourcePath, `path ${show(input)}`);
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
