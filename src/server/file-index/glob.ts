/**
 * The search patterns of `custos search` (docs/user-guide.md, "Find a file"):
 *
 * - a pattern without '/' matches an item's name at any depth (`*.tex`);
 * - a pattern with '/' matches the whole path relative to the protected
 *   directory (a leading '/' is the protected directory itself), where `**`
 *   as a whole component matches any number of directories, none included
 *   (`**` + `/thesis*` matches `thesis.tex` and `a/b/thesis.tex`);
 * - `*` matches any bytes but '/', `?` one byte but '/', `[abc]`, `[a-z]`
 *   and `[!abc]` one byte of (not of) the set; `\` takes the next character
 *   literally. Case matters, as it does to Linux.
 *
 * Paths are raw bytes: a pattern is matched against them as UTF-8 bytes, so
 * a name that is not UTF-8 still matches `*`.
 */
import { CustosError } from '../../base/index.js';

export const MAX_PATTERN_LENGTH = 1024;

export interface CompiledPattern {
  /** Whether a path (raw bytes, relative, '/'-joined) matches. */
  matches(path: Buffer): boolean;
  /** The same for a path already decoded as latin1 (one character per byte): no copy per path. */
  matchesText(path: string): boolean;
  /** A pattern without '/' looks at names only. */
  readonly namesOnly: boolean;
  /** The longest run of literal bytes every match contains (a cheap prefilter), or null. */
  readonly literal: Buffer | null;
}

export function compilePattern(pattern: string): CompiledPattern {
  if (pattern.length === 0) throw new CustosError('usage', 'the search pattern is empty');
  if (pattern.length > MAX_PATTERN_LENGTH) throw new CustosError('usage', `the search pattern is longer than ${MAX_PATTERN_LENGTH} characters`);
  if (pattern.includes('\0')) throw new CustosError('usage', 'the search pattern contains a NUL character');
  const anchored = pattern.includes('/');
  const body = anchored ? pattern.replace(/^\/+/, '') : pattern;
  if (body.length === 0) throw new CustosError('usage', `the search pattern ${JSON.stringify(pattern)} names no item`);
  // Bytes as latin1 characters: one character per byte, so the RegExp works on raw bytes.
  const bytes = Buffer.from(body, 'utf8').toString('latin1');
  const { source, literals } = translate(bytes, anchored);
  const re = new RegExp(`^${source}$`, 's');
  const longest = literals.reduce((a, b) => (b.length > a.length ? b : a), '');
  const matchesText = anchored ? (p: string) => re.test(p) : (p: string) => re.test(p.slice(p.lastIndexOf('/') + 1));
  return {
    matches: (p: Buffer) => matchesText(p.toString('latin1')),
    matchesText,
    namesOnly: !anchored,
    literal: longest.length > 0 ? Buffer.from(longest, 'latin1') : null,
  };
}

/** The RegExp source of a glob (bytes as latin1), and its runs of literal bytes. */
function translate(glob: string, anchored: boolean): { source: string; literals: string[] } {
  const literals: string[] = [];
  let literal = '';
  let out = '';
  const flush = () => {
    if (literal) literals.push(literal);
    literal = '';
  };
  let i = 0;
  while (i < glob.length) {
    const c = glob[i]!;
    const atComponentStart = i === 0 || glob[i - 1] === '/';
    if (anchored && c === '*' && glob[i + 1] === '*' && atComponentStart && (i + 2 === glob.length || glob[i + 2] === '/')) {
      flush();
      if (i + 2 === glob.length) {
        out += '.*'; // a trailing ** matches everything below
        i += 2;
      } else {
        out += '(?:[^/]*/)*'; // **/ : any number of directories, none included
        i += 3;
      }
      continue;
    }
    if (c === '*') {
      flush();
      out += '[^/]*';
      i++;
    } else if (c === '?') {
      flush();
      out += '[^/]';
      i++;
    } else if (c === '[') {
      const end = classEnd(glob, i);
      if (end < 0) {
        literal += c;
        out += escapeRe(c);
        i++;
        continue;
      }
      flush();
      let inner = glob.slice(i + 1, end);
      const negated = inner.startsWith('!') || inner.startsWith('^');
      if (negated) inner = inner.slice(1);
      out += `[${negated ? '^/' : ''}${inner.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
      i = end + 1;
    } else if (c === '\\' && i + 1 < glob.length) {
      literal += glob[i + 1]!;
      out += escapeRe(glob[i + 1]!);
      i += 2;
    } else {
      if (c === '/') flush();
      else literal += c;
      out += escapeRe(c);
      i++;
    }
  }
  flush();
  return { source: out, literals };
}

/** Index of the ']' closing the class opened at `start`, or -1 (then '[' is literal). */
function classEnd(glob: string, start: number): number {
  let j = start + 1;
  if (glob[j] === '!' || glob[j] === '^') j++;
  if (glob[j] === ']') j++; // a ']' first in the class is a member
  while (j < glob.length && glob[j] !== ']') {
    if (glob[j] === '/') return -1; // a class never spans components
    j++;
  }
  return j < glob.length ? j : -1;
}

function escapeRe(c: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(c) ? `\\${c}` : c;
}
