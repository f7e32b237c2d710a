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
  // Bytes as latin1 characters: one character per byte, so names that are not UTF-8 are matched byte by byte.
  const bytes = Buffer.from(body, 'utf8').toString('latin1');
  const components = anchored ? bytes.split('/').filter((c, i, all) => c !== '' || i === all.length - 1).map(parseComponent) : [parseName(bytes)];
  // Consecutive ** are one.
  const parts = components.filter((c, i) => !(c === ANY_DIRS && components[i - 1] === ANY_DIRS));
  const literals = parts.flatMap((c) => (c === ANY_DIRS ? [] : c.literals));
  const longest = literals.reduce((a, b) => (b.length > a.length ? b : a), '');
  const matchesText = anchored
    ? (p: string) => matchPath(parts, p.split('/'))
    : (p: string) => matchComponent((parts[0] as Component).tokens, p.slice(p.lastIndexOf('/') + 1));
  return {
    matches: (p: Buffer) => matchesText(p.toString('latin1')),
    matchesText,
    namesOnly: !anchored,
    literal: longest.length > 0 ? Buffer.from(longest, 'latin1') : null,
  };
}

/*
 * Matching works on components, never through a RegExp: a pattern such as
 * `*a*a*a*a*a*b` would make a backtracking RegExp take exponential time on a
 * long name, and a caller could stall the server with one request. A
 * component is matched by the classic wildcard walk (back to the last `*`
 * on a mismatch: O(name × pattern) at worst), and `**` by memoised dynamic
 * programming over components (O(pattern components × path components)).
 */

type Token = { kind: 'char'; c: string } | { kind: 'any' } | { kind: 'star' } | { kind: 'class'; negated: boolean; members: string; ranges: Array<[string, string]> };
interface Component {
  readonly tokens: readonly Token[];
  readonly literals: readonly string[];
}
/** `**` as a whole component: any number of directories. */
const ANY_DIRS = Symbol('**');

function parseComponent(text: string): Component | typeof ANY_DIRS {
  return text === '**' ? ANY_DIRS : parseName(text);
}

/** A pattern for one name: `**` is just `*` there. */
function parseName(text: string): Component {
  const tokens: Token[] = [];
  const literals: string[] = [];
  let literal = '';
  const flush = () => {
    if (literal) literals.push(literal);
    literal = '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '*') {
      flush();
      if (tokens.at(-1)?.kind !== 'star') tokens.push({ kind: 'star' }); // ** inside a component is *
    } else if (c === '?') {
      flush();
      tokens.push({ kind: 'any' });
    } else if (c === '[' && classEnd(text, i) > 0) {
      flush();
      const end = classEnd(text, i);
      let inner = text.slice(i + 1, end);
      const negated = inner.startsWith('!') || inner.startsWith('^');
      if (negated) inner = inner.slice(1);
      const ranges: Array<[string, string]> = [];
      let members = '';
      for (let k = 0; k < inner.length; k++) {
        if (inner[k + 1] === '-' && k + 2 < inner.length) {
          ranges.push([inner[k]!, inner[k + 2]!]);
          k += 2;
        } else {
          members += inner[k];
        }
      }
      tokens.push({ kind: 'class', negated, members, ranges });
      i = end;
    } else if (c === '\\' && i + 1 < text.length) {
      i++;
      literal += text[i];
      tokens.push({ kind: 'char', c: text[i]! });
    } else {
      literal += c;
      tokens.push({ kind: 'char', c });
    }
  }
  flush();
  return { tokens, literals };
}

/** Index of the ']' closing the class opened at `start`, or -1 (then '[' is literal). */
function classEnd(text: string, start: number): number {
  let j = start + 1;
  if (text[j] === '!' || text[j] === '^') j++;
  if (text[j] === ']') j++; // a ']' first in the class is a member
  while (j < text.length && text[j] !== ']') j++;
  return j < text.length ? j : -1;
}

function matchOne(t: Token, c: string): boolean {
  switch (t.kind) {
    case 'char':
      return t.c === c;
    case 'any':
      return true;
    case 'class': {
      const inside = t.members.includes(c) || t.ranges.some(([a, b]) => c >= a && c <= b);
      return inside !== t.negated;
    }
    default:
      return false;
  }
}

/** One name against one component's tokens (no '/' in either). */
function matchComponent(tokens: readonly Token[], name: string): boolean {
  let p = 0;
  let s = 0;
  let starP = -1;
  let starS = 0;
  while (s < name.length) {
    const t = tokens[p];
    if (t !== undefined && t.kind !== 'star' && matchOne(t, name[s]!)) {
      p++;
      s++;
    } else if (t !== undefined && t.kind === 'star') {
      starP = p++;
      starS = s;
    } else if (starP >= 0) {
      p = starP + 1;
      s = ++starS;
    } else {
      return false;
    }
  }
  while (tokens[p]?.kind === 'star') p++;
  return p === tokens.length;
}

/** Path components against pattern components; `**` is any number of directories, and at the end at least one item. */
function matchPath(parts: ReadonlyArray<Component | typeof ANY_DIRS>, names: readonly string[]): boolean {
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = i * (names.length + 1) + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let r: boolean;
    const part = parts[i];
    if (part === undefined) r = j === names.length;
    else if (part === ANY_DIRS) r = i === parts.length - 1 ? j < names.length : go(i + 1, j) || (j < names.length && go(i, j + 1));
    else r = j < names.length && matchComponent(part.tokens, names[j]!) && go(i + 1, j + 1);
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}
