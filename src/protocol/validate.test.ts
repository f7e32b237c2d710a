/**
 * The agent-message validator, fuzzed (fast-check): every valid message is
 * accepted exactly as sent (no coercion), every message with one field
 * wrong, missing, added or oversized is refused with a `usage` error, and
 * no input whatever makes it throw anything else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CustosError } from '../base/index.js';
import {
  checkAgentMessage,
  parseAnswerBody,
  parseQuestion,
  MAX_HOSTNAME_CHARS,
  MAX_MISSED_PATHS,
  MAX_IDS_PER_REQUEST,
  MAX_USER_BROWSE_LIMIT,
  MAX_VERSION_CHARS,
  isCanonicalAbsolutePath,
  parseAgentMessage,
  parseRecoverySettings,
  PROGRESS_PHASES,
  WIRE_ERROR_CODES,
  wireHostname,
} from './validate.js';
import { ENTRY_TYPES, MAX_ACCOUNT_GROUPS, MAX_ERROR_CHARS, MAX_LOG_CHARS } from './messages.js';
import { cursorOf, isNameBytes, MAX_LIST_ENTRIES, MAX_NAME_BYTES, wireName } from './live-names.js';

const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const count = fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER), fc.integer({ min: 0, max: 2 ** 40 }));
const printable = (max: number) => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: max });
const host = fc.string({ unit: fc.constantFrom(...'abcXYZ019.-_'), minLength: 0, maxLength: 60 }).map((s) => `h${s}`);

const summary = fc.record({
  filesNew: count, filesChanged: count, filesUnchanged: count, dirs: count, others: count, errors: count,
  changedDuringRead: count, bytesRead: count, bytesAdded: count, logicalBytes: count, durationMs: count,
});
const pageRef = fc.integer({ min: 2, max: 16 * 1024 * 1024 }).chain((length) =>
  fc.record({ id: hex(64), length: fc.constant(length), entries: fc.integer({ min: 1, max: Math.floor(length / 2) }) }));

const body = fc.oneof(
  fc.record({ op: fc.constantFrom('missing' as const, 'blobs' as const), ids: fc.array(hex(64), { maxLength: 20 }) }),
  fc.constant({ op: 'stored' as const }),
  fc.record({
    op: fc.constant('commit' as const),
    manifest: fc.array(pageRef, { minLength: 1, maxLength: 5 }),
    summary,
    partial: fc.boolean(),
    excludes: fc.array(fc.string({ maxLength: 30 }), { maxLength: 5 }),
  }),
);

const userPath = fc.array(fc.string({ unit: fc.constantFrom(...'abc xyz-_.0'), minLength: 1, maxLength: 8 }).filter((c) => c !== '.' && c !== '..'), { maxLength: 5 })
  .map((parts) => '/' + parts.join('/'));

/** File names as bytes: letters, dots, spaces, controls, bytes that are not UTF-8, é, and a right-to-left override. */
const nameBytesArb = fc.array(fc.constantFrom(0x61, 0x62, 0x7a, 0x2e, 0x20, 0x0a, 0x1b, 0x7f, 0xff, 0x80, 0xc3, 0xa9, 0xe2, 0x80, 0xae), { minLength: 1, maxLength: 10 })
  .map((b) => Buffer.from(b))
  .filter(isNameBytes);
/** A valid page of a live listing: names sorted by bytes, `next` the last one's cursor or null. */
const listDirAnswer = fc.record({
  names: fc.uniqueArray(nameBytesArb, { selector: (b) => b.toString('hex'), maxLength: 8 }),
  entries: fc.array(fc.record({ type: fc.constantFrom(...ENTRY_TYPES), size: count, mountPoint: fc.boolean() }), { minLength: 8, maxLength: 8 }),
  more: fc.boolean(),
  path: userPath,
}).map(({ names, entries, more, path }) => {
  const sorted = [...names].sort(Buffer.compare);
  return {
    kind: 'list-dir' as const,
    path,
    entries: sorted.map((b, i) => ({ ...wireName(b), type: entries[i]!.type, size: entries[i]!.size, ...(entries[i]!.mountPoint ? { mountPoint: true } : {}) })),
    next: more && sorted.length > 0 ? cursorOf(sorted.at(-1)!) : null,
  };
});
const wireErrorArb = fc.record({ code: fc.constantFrom(...WIRE_ERROR_CODES), message: fc.string({ maxLength: MAX_ERROR_CHARS }), transient: fc.boolean() });

/** Valid agent messages of every type. */
const validMessage = fc.oneof(
  fc.record({ t: fc.constant('hello'), protocol: fc.nat(), version: printable(MAX_VERSION_CHARS), hostname: host }),
  fc.record({ t: fc.constant('request'), req: u32, job: u32, body }),
  fc.record({
    t: fc.constant('progress'),
    job: u32,
    progress: fc.record({ phase: fc.constantFrom(...PROGRESS_PHASES), filesDone: count, bytesDone: count, bytesTotal: fc.option(count, { nil: null }) }),
  }),
  fc.record({ t: fc.constant('log'), job: u32, level: fc.constantFrom('info', 'warning', 'error'), message: fc.string({ maxLength: MAX_LOG_CHARS }) }),
  fc.record({
    t: fc.constant('done'),
    job: u32,
    result: fc.record({
      point: hex(32), time: printable(30), bytesAdded: count, partial: fc.boolean(), errors: count, summary, files: count, identical: count, copies: count, skipped: count, target: fc.string({ maxLength: 100 }),
      walk: fc.record({ itemsStatted: count, dirsListed: count, journal: fc.boolean(), journalMissed: count, journalMissedPaths: fc.array(fc.string({ maxLength: 100 }), { maxLength: MAX_MISSED_PATHS }) }, { requiredKeys: ['itemsStatted', 'dirsListed', 'journal'] }),
    }, { requiredKeys: [] }),
  }),
  fc.record({ t: fc.constant('failed'), job: u32, error: fc.record({ code: fc.constantFrom(...WIRE_ERROR_CODES), message: fc.string({ maxLength: MAX_ERROR_CHARS }), transient: fc.boolean() }) }),
  fc.record({ t: fc.constant('answer'), req: u32, ok: fc.constant(true), body: listDirAnswer }),
  fc.record({ t: fc.constant('answer'), req: u32, ok: fc.constant(false), error: wireErrorArb }),
  fc.record({ t: fc.constant('journal-lost'), source: fc.string({ maxLength: 200 }), reason: fc.string({ maxLength: 200 }) }),
  fc.record({
    t: fc.constant('user-request'),
    req: u32,
    user: fc.record({ uid: u32, gid: u32, groups: fc.array(u32, { maxLength: 5 }) }),
    body: fc.oneof(
      fc.record({ op: fc.constantFrom('versions' as const, 'recover' as const), path: userPath }),
      fc.record({ op: fc.constant('browse' as const), path: userPath, limit: fc.integer({ min: 1, max: MAX_USER_BROWSE_LIMIT }) }),
      fc.record({ op: fc.constant('search' as const), path: userPath, pattern: fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !s.includes('\u0000')), limit: fc.integer({ min: 1, max: MAX_USER_BROWSE_LIMIT }) }),
    ),
  }),
);

/** Values no field accepts in the place of another type (a wrong type, a number out of range, an oversized string...). */
const wrongValue = fc.oneof(
  fc.constant(null), fc.constant(-1), fc.constant(1.5), fc.constant(2 ** 53), fc.constant(Number.NaN), fc.constant('1'),
  fc.constant(true), fc.constant([]), fc.constant({}), fc.constant('x'.repeat(70_000)), fc.constant({ valueOf: 1 }),
);

/** All paths to fields (and array items) in a JSON value. */
function paths(v: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (typeof v !== 'object' || v === null) return [prefix];
  const out: Array<Array<string | number>> = prefix.length > 0 ? [prefix] : [];
  for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, Array.isArray(v) ? Number(k) : k]));
  return out;
}

function setAt(root: unknown, path: ReadonlyArray<string | number>, value: unknown, remove: boolean): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let at = copy;
  for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  if (remove) {
    if (Array.isArray(at)) at.splice(Number(last), 1);
    else delete at[last];
  } else at[last] = value;
  return copy;
}

function refusedAsUsage(v: unknown): boolean {
  try {
    checkAgentMessage(v);
    return false;
  } catch (err) {
    assert.ok(err instanceof CustosError && err.code === 'usage', `not a usage error: ${String(err)}`);
    return true;
  }
}

test('every valid agent message is accepted as it was sent (no coercion, nothing added)', () => {
  fc.assert(fc.property(validMessage, (m) => {
    const sent: unknown = JSON.parse(JSON.stringify(m));
    assert.deepEqual(checkAgentMessage(sent), sent);
  }), { numRuns: 4000 });
});

test('a message with an unknown field anywhere in it is refused', () => {
  fc.assert(fc.property(validMessage, fc.nat(), fc.string({ minLength: 1, maxLength: 12 }), (m, pick, key) => {
    const objects = [[] as Array<string | number>, ...paths(m)].filter((p) => {
      const at = p.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], m);
      return typeof at === 'object' && at !== null && !Array.isArray(at);
    });
    const target = objects[pick % objects.length]!;
    const at = target.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], m) as Record<string, unknown>;
    fc.pre(!Object.hasOwn(at, key) && key !== '__proto__');
    const extended = structuredClone(m) as Record<string, unknown>;
    const holder = target.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], extended) as Record<string, unknown>;
    holder[key] = 1;
    assert.ok(refusedAsUsage(extended), `accepted with ${key} added at ${JSON.stringify(target)}`);
  }), { numRuns: 5000 });
});

test('a message with one field of a wrong type, out of range or removed is refused', () => {
  fc.assert(fc.property(validMessage, fc.nat(), wrongValue, fc.boolean(), (m, pick, value, remove) => {
    const all = paths(m).filter((p) => p.length > 0 && p[0] !== 't');
    fc.pre(all.length > 0);
    const path = all[pick % all.length]!;
    const inArray = typeof path.at(-1) === 'number';
    // Removing an item of an array leaves a valid (shorter) array; an optional field of a result may be left out.
    const optionalWalkField = path[0] === 'result' && path[1] === 'walk' && path.length === 3 && (path[2] === 'journalMissed' || path[2] === 'journalMissedPaths');
    // A listing's entry without its optional mountPoint is valid, and so is one without nameBase64 whose text is its bytes.
    const optionalEntryField = path[0] === 'body' && path[1] === 'entries' && (path.at(-1) === 'mountPoint' || path.at(-1) === 'nameBase64');
    fc.pre(!(remove && inArray) && !(remove && path[0] === 'result' && path.length === 2) && !(remove && optionalWalkField) && !(remove && optionalEntryField));
    // A few of the wrong values are right for some fields: a null bytesTotal, an empty list of ids, the other boolean, a short string, an empty result.
    const current = path.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], m);
    const fits =
      value === current ||
      (value === '1' && typeof current === 'string') ||
      (typeof value === 'boolean' && typeof current === 'boolean') ||
      (Array.isArray(value) && value.length === 0 && Array.isArray(current) && path.at(-1) !== 'manifest') ||
      (value === null && (path.at(-1) === 'bytesTotal' || (path[0] === 'body' && path.at(-1) === 'next'))) ||
      (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0 && path.length === 1 && path[0] === 'result');
    fc.pre(remove || !fits);
    const changed = setAt(m, path, value, remove);
    assert.ok(refusedAsUsage(changed), `accepted with ${JSON.stringify(path)} ${remove ? 'removed' : `= ${JSON.stringify(value)?.slice(0, 40)}`}`);
  }), { numRuns: 8000 });
});

test('no JSON value, and no text at all, makes the validator throw anything but a usage error', () => {
  fc.assert(fc.property(fc.jsonValue(), (v) => {
    try {
      checkAgentMessage(v);
    } catch (err) {
      assert.ok(err instanceof CustosError && err.code === 'usage', String(err));
    }
  }), { numRuns: 10_000 });
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => {
    const r = parseAgentMessage(s);
    if (!r.ok) assert.equal(r.refused.error.code, 'usage');
  }), { numRuns: 5000 });
});

test('bounds: sizes, host names, ids', () => {
  const req = (body: unknown) => ({ t: 'request', req: 1, job: 1, body });
  assert.ok(refusedAsUsage(req({ op: 'missing', ids: Array(MAX_IDS_PER_REQUEST + 1).fill('0'.repeat(64)) })));
  assert.ok(!refusedAsUsage(req({ op: 'missing', ids: Array(MAX_IDS_PER_REQUEST).fill('0'.repeat(64)) })));
  assert.ok(refusedAsUsage(req({ op: 'blobs', ids: ['0'.repeat(63) + 'G'] })));
  assert.ok(refusedAsUsage(req({ op: 'blobs', ids: ['A'.repeat(64)] })), 'upper-case hex is not an id');
  assert.ok(refusedAsUsage({ t: 'hello', protocol: 2, version: '1', hostname: 'a'.repeat(MAX_HOSTNAME_CHARS + 1) }));
  assert.ok(refusedAsUsage({ t: 'hello', protocol: 2, version: '1', hostname: 'evil\nhost' }));
  assert.ok(refusedAsUsage({ t: 'hello', protocol: 2, version: 'v\u0000', hostname: 'h' }));
  assert.ok(refusedAsUsage({ t: 'log', job: 1, level: 'info', message: 'x'.repeat(MAX_LOG_CHARS + 1) }));
  assert.ok(refusedAsUsage({ t: 'progress', job: 1, progress: { phase: 'pwned', filesDone: 0, bytesDone: 0, bytesTotal: null } }));
  assert.ok(refusedAsUsage({ t: 'done', job: 1, result: { target: 'x'.repeat(4097) } }));
  const walk = { itemsStatted: 1, dirsListed: 1, journal: false };
  assert.ok(refusedAsUsage({ t: 'done', job: 1, result: { walk: { ...walk, journalMissedPaths: Array(MAX_MISSED_PATHS + 1).fill('p') } } }));
  assert.ok(refusedAsUsage({ t: 'done', job: 1, result: { walk: { ...walk, journalMissedPaths: ['x'.repeat(1025)] } } }));
  assert.ok(!refusedAsUsage({ t: 'done', job: 1, result: { walk: { ...walk, journalMissed: 3, journalMissedPaths: ['a', 'b'] } } }));
  assert.ok(refusedAsUsage({ t: 'failed', job: 1, error: { code: 'root', message: '', transient: false } }));
  const page = { id: 'a'.repeat(64), length: 100, entries: 51 };
  const commit = (manifest: unknown) => req({ op: 'commit', manifest, summary: Object.fromEntries(['filesNew', 'filesChanged', 'filesUnchanged', 'dirs', 'others', 'errors', 'changedDuringRead', 'bytesRead', 'bytesAdded', 'logicalBytes', 'durationMs'].map((k) => [k, 0])), partial: false, excludes: [] });
  assert.ok(refusedAsUsage(commit([page])), 'more entries than a page of that length can hold');
  assert.ok(refusedAsUsage(commit([])), 'an empty manifest');
  assert.ok(!refusedAsUsage(commit([{ ...page, entries: 50 }])));
  // An express full's metadata: checked field by field (src/format/postgres/point-meta.ts); refused whole.
  const app = {
    kind: 'postgres', point: 'full', logMode: 'full-only', version: 150018, systemIdentifier: '7716592498700678075', walSegmentSize: 16 << 20, blockSize: 8192, timeline: 1,
    startLsn: '0/2000028', stopLsn: '0/2000100', startTime: '2026-12-07T18:00:00Z', stopTime: '2026-12-07T18:00:01Z', dataChecksums: false,
    walSegments: ['000000010000000000000002', '000000010000000000000002'],
  };
  const withApp = (a: unknown) => {
    const m = commit([{ ...page, entries: 50 }]) as { body: Record<string, unknown> };
    return { ...m, body: { ...m.body, app: a } };
  };
  assert.ok(!refusedAsUsage(withApp(app)));
  assert.ok(refusedAsUsage(withApp({ ...app, stopLsn: '0/2000000' })), 'a stop before the start');
  assert.ok(refusedAsUsage(withApp({ ...app, walSegments: ['000000010000000000000002', '000000010000000000000009'] })), 'WAL names the LSNs do not give');
  assert.ok(refusedAsUsage(withApp({ ...app, note: 'x' })), 'an unknown field');
  assert.ok(refusedAsUsage(withApp('postgres')));
  assert.ok(!refusedAsUsage({ t: 'hello', protocol: 2, version: '1', hostname: 'h', kinds: ['fs', 'postgres'] }));
  assert.ok(refusedAsUsage({ t: 'hello', protocol: 2, version: '1', hostname: 'h', kinds: ['fs', 'oracle'] }));
  assert.ok(refusedAsUsage({ t: 'hello', protocol: 2, version: '1', hostname: 'h', kinds: Array(17).fill('fs') }));
  assert.ok(refusedAsUsage({ t: 'done', job: 1, result: { dataDirectory: 'x'.repeat(4201) } }));
  // A new instance's result, and why an express full synchronizes no log.
  const instance = { port: 5499, state: 'promoted', socketDir: '/var/run/postgresql' };
  assert.ok(!refusedAsUsage({ t: 'done', job: 1, result: { dataDirectory: '/srv/i/data', instance } }));
  for (const bad of [{ ...instance, port: 0 }, { ...instance, state: 'running' }, { ...instance, socketDir: '/a\nb' }, { ...instance, pid: 1 }, 'promoted']) {
    assert.ok(refusedAsUsage({ t: 'done', job: 1, result: { instance: bad } }), JSON.stringify(bad));
  }
  assert.ok(!refusedAsUsage({ t: 'done', job: 1, result: { logModeWhy: "archive_command is 'pgbackrest --stanza=main archive-push %p'" } }));
  assert.ok(refusedAsUsage({ t: 'done', job: 1, result: { logModeWhy: 'a\u001b[31m' } }));
  assert.ok(refusedAsUsage({ t: 'done', job: 1, result: { logModeWhy: 'x'.repeat(1001) } }));
  // The release question's answer: one boolean.
  assert.ok(!refusedAsUsage({ t: 'answer', req: 1, ok: true, body: { kind: 'release', dropped: true } }));
  assert.ok(refusedAsUsage({ t: 'answer', req: 1, ok: true, body: { kind: 'release', dropped: 'yes' } }));
  assert.ok(refusedAsUsage({ t: 'answer', req: 1, ok: true, body: { kind: 'release', dropped: true, slot: 'x' } }));
  // The lag watch's answer: bytes held, or null (no such slot).
  assert.ok(!refusedAsUsage({ t: 'answer', req: 1, ok: true, body: { kind: 'slot-status', retainedBytes: 16777216 } }));
  assert.ok(!refusedAsUsage({ t: 'answer', req: 1, ok: true, body: { kind: 'slot-status', retainedBytes: null } }));
  for (const bad of [-1, 1.5, '5', Number.MAX_SAFE_INTEGER + 2]) assert.ok(refusedAsUsage({ t: 'answer', req: 1, ok: true, body: { kind: 'slot-status', retainedBytes: bad } }), String(bad));
  assert.equal(wireHostname('my host\u00e9.example'), 'my-host-.example');
  assert.equal(wireHostname(''), 'unknown');
  assert.ok(!refusedAsUsage({ t: 'hello', protocol: 2, version: '1', hostname: wireHostname('..weird name/\u0000') }));
});

test('a recovery job\'s conflict, security and throttle: defaults when absent, checked when present', () => {
  const refused = (spec: Record<string, unknown>) =>
    assert.throws(() => parseRecoverySettings(spec as never), (err: unknown) => err instanceof CustosError && err.code === 'usage');
  assert.deepEqual(parseRecoverySettings({} as never), { conflict: 'overwrite', security: 'point', throttle: [] });
  const throttle = [{ bytesPerSecond: 20 * 1024 * 1024 }, { bytesPerSecond: 5 * 1024 * 1024, window: { days: ['mon', 'fri'], from: '08:00', to: '18:00' } }];
  assert.deepEqual(parseRecoverySettings({ conflict: 'keep-both', security: 'target', throttle } as never), { conflict: 'keep-both', security: 'target', throttle });
  refused({ conflict: 'merge' });
  assert.throws(() => parseRecoverySettings({ conflict: "merge" } as never), { message: /^invalid recovery job: job\.conflict must be one of overwrite, skip, keep-both$/ });
  refused({ security: 'mine' });
  refused({ throttle: 'fast' });
  refused({ throttle: [{ bytesPerSecond: 100 }] });
  refused({ throttle: [{ bytesPerSecond: 1_500_000.5 }] });
  refused({ throttle: [{ bytesPerSecond: 1e6, extra: 1 }] });
  refused({ throttle: [{ bytesPerSecond: 1e6, window: { days: [], from: '08:00', to: '18:00' } }] });
  refused({ throttle: [{ bytesPerSecond: 1e6, window: { days: ['mon', 'mon'], from: '08:00', to: '18:00' } }] });
  refused({ throttle: [{ bytesPerSecond: 1e6, window: { days: ['someday'], from: '08:00', to: '18:00' } }] });
  refused({ throttle: [{ bytesPerSecond: 1e6, window: { days: ['mon'], from: '24:00', to: '18:00' } }] });
  refused({ throttle: [{ bytesPerSecond: 1e6, window: { days: ['mon'], from: '08:00', to: '08:00' } }] });
  refused({ throttle: Array(17).fill({ bytesPerSecond: 1e6 }) });
});

test('user requests: canonical absolute paths only, one way to choose a point, the refused request still answered', () => {
  const ur = (body: unknown, user: unknown = { uid: 1000, gid: 1000, groups: [] }) => ({ t: 'user-request', req: 7, user, body });
  for (const path of ['relative/x', '/a/../b', '/a/./b', '/a//b', '/a/', '', '/a\u0000b', '/' + 'x'.repeat(4096)]) {
    assert.ok(refusedAsUsage(ur({ op: 'versions', path })), `accepted ${JSON.stringify(path.slice(0, 30))}`);
  }
  for (const path of ['/', '/a', '/a/b c/d.e', '/a/...']) assert.ok(isCanonicalAbsolutePath(path), path);
  assert.ok(!refusedAsUsage(ur({ op: 'recover', path: '/a', point: 'abcd' })));
  assert.ok(!refusedAsUsage(ur({ op: 'recover', path: '/a', at: '2026-12-01T17:00:59.999Z' })));
  assert.ok(refusedAsUsage(ur({ op: 'recover', path: '/a', point: 'abcd', at: '2026-12-01T17:00:00Z' })), 'a point and a time');
  assert.ok(refusedAsUsage(ur({ op: 'recover', path: '/a', point: 'abc' })), 'a point id of 3 digits');
  assert.ok(refusedAsUsage(ur({ op: 'recover', path: '/a', at: 'tomorrow' })));
  assert.ok(refusedAsUsage(ur({ op: 'versions', path: '/a', point: 'abcd' })), 'versions takes no point');
  assert.ok(refusedAsUsage(ur({ op: 'browse', path: '/a', limit: MAX_USER_BROWSE_LIMIT + 1 })));
  assert.ok(refusedAsUsage(ur({ op: 'browse', path: '/a', limit: 10, after: 'x/y' })));
  assert.ok(refusedAsUsage(ur({ op: 'browse', path: '/a', limit: 10, after: '..' })));
  assert.ok(!refusedAsUsage(ur({ op: 'browse', path: '/a', limit: 10, after: 'x y' })));
  assert.ok(refusedAsUsage(ur({ op: 'versions', path: '/a' }, { uid: -1, gid: 0, groups: [] })));
  assert.ok(refusedAsUsage(ur({ op: 'versions', path: '/a' }, { uid: 0, gid: 0, groups: ['wheel'] })));
  assert.ok(refusedAsUsage(ur({ op: 'delete', path: '/a' })));
  const r = parseAgentMessage(JSON.stringify(ur({ op: 'versions', path: '/a/../etc' })));
  assert.ok(!r.ok && r.refused.req === 7 && r.refused.userRequest === true && r.refused.job === null);
});

test('answers (live listings): bounded, one spelling per name, in order, next the last cursor; a refused one still names its question', () => {
  const ans = (body: unknown) => ({ t: 'answer', req: 5, ok: true, body });
  const page = (entries: unknown[], next: string | null = null, path = '/home') => ans({ kind: 'list-dir', path, entries, next });
  const e = (name: string, extra: Record<string, unknown> = {}) => ({ name, type: 'file', size: 1, ...extra });
  assert.ok(!refusedAsUsage(page([e('a'), e('b', { mountPoint: true }), e('c')], cursorOf(Buffer.from('c')))));
  // Sizes of lists and names.
  const names = Array.from({ length: MAX_LIST_ENTRIES + 1 }, (_, i) => e(`n${String(i).padStart(5, '0')}`));
  assert.ok(refusedAsUsage(page(names)), 'more than 1000 entries');
  assert.ok(!refusedAsUsage(page(names.slice(0, MAX_LIST_ENTRIES))));
  assert.ok(refusedAsUsage(page([e('x'.repeat(MAX_NAME_BYTES + 1))])), 'a name longer than 255 bytes');
  assert.ok(!refusedAsUsage(page([e('x'.repeat(MAX_NAME_BYTES))])));
  assert.ok(refusedAsUsage(page([e('é'.repeat(128))])), '256 bytes in 128 characters');
  // One component, printable, and the displayed form of its bytes.
  for (const name of ['', '.', '..', 'a/b', 'a\u0000b', 'evil\u001b[2J', 'line\nbreak', 'del\u007f', '\u202eexe.txt', '\ud800']) {
    assert.ok(refusedAsUsage(page([e(name)])), `accepted the name ${JSON.stringify(name)}`);
  }
  const raw = Buffer.from([0x61, 0xff, 0x1b]);
  assert.deepEqual(wireName(raw), { name: 'a\ufffd\ufffd', nameBase64: raw.toString('base64') });
  assert.ok(!refusedAsUsage(page([{ ...wireName(raw), type: 'file', size: 0 }])));
  assert.ok(refusedAsUsage(page([{ name: 'a??', nameBase64: raw.toString('base64'), type: 'file', size: 0 }])), 'a name that is not the display of its bytes');
  assert.ok(refusedAsUsage(page([{ name: 'ab', nameBase64: Buffer.from('ab').toString('base64'), type: 'file', size: 0 }])), 'base64 of a name that is text');
  assert.ok(refusedAsUsage(page([{ name: 'a\ufffd', nameBase64: 'YY==', type: 'file', size: 0 }])), 'not canonical base64');
  assert.ok(refusedAsUsage(page([{ name: '\ufffd', nameBase64: Buffer.from([0x2f]).toString('base64'), type: 'file', size: 0 }])), 'a slash hidden in base64');
  // Types, sizes, flags.
  for (const bad of [{ type: 'device' }, { size: -1 }, { size: 1.5 }, { size: 2 ** 53 }, { size: '1' }, { mountPoint: false }, { mountPoint: 'yes' }, { owner: 'root' }]) {
    assert.ok(refusedAsUsage(page([e('a', bad)])), `accepted ${JSON.stringify(bad)}`);
  }
  // Order and paging.
  assert.ok(refusedAsUsage(page([e('b'), e('a')])), 'out of order');
  assert.ok(refusedAsUsage(page([e('a'), e('a')])), 'twice');
  assert.ok(!refusedAsUsage(page([e('B'), e('a'), e('\u00e9')])), 'byte order, not locale order');
  assert.ok(refusedAsUsage(page([e('a'), e('b')], cursorOf(Buffer.from('a')))), 'next is not the last entry');
  assert.ok(refusedAsUsage(page([], cursorOf(Buffer.from('a')))), 'a next after an empty page');
  assert.ok(refusedAsUsage(page([e('a')], 'not base64!')));
  // The path, the kind and the envelope.
  for (const path of ['relative', '/a/../b', '/a//b', '/a\u0000', '/' + 'p'.repeat(4096)]) assert.ok(refusedAsUsage(page([], null, path)), path);
  assert.ok(refusedAsUsage(ans({ kind: 'read-file', path: '/a', entries: [], next: null })));
  assert.ok(refusedAsUsage({ t: 'answer', req: 5, ok: true, body: { kind: 'list-dir', path: '/', entries: [], next: null }, error: { code: 'io', message: 'x', transient: false } }));
  assert.ok(refusedAsUsage({ t: 'answer', req: 5, ok: false }));
  assert.ok(refusedAsUsage({ t: 'answer', req: 5, ok: 'yes', body: {} }));
  assert.ok(refusedAsUsage({ t: 'answer', req: -5, ok: false, error: { code: 'io', message: 'x', transient: false } }));
  const r = parseAgentMessage(JSON.stringify(page([e('b'), e('a')])));
  assert.ok(!r.ok && r.refused.req === 5 && r.refused.answer === true && r.refused.job === null);
});

test('questions (what the agent accepts from the server): canonical absolute paths, bounded pages, cursors of one name', () => {
  const usage = (v: unknown, message?: RegExp) =>
    assert.throws(() => parseQuestion(v), (err: unknown) => err instanceof CustosError && err.code === 'usage' && (!message || message.test(err.message)));
  assert.deepEqual(parseQuestion({ kind: 'list-dir', path: '/', limit: 1 }), { kind: 'list-dir', path: '/', limit: 1 });
  const after = cursorOf(Buffer.from([0x61, 0xff]));
  assert.deepEqual(parseQuestion({ kind: 'list-dir', path: '/a b', limit: 1000, after }), { kind: 'list-dir', path: '/a b', limit: 1000, after });
  usage({ kind: 'read-file', path: '/etc/shadow' }, /does not know the question "read-file": update it/);
  assert.deepEqual(parseQuestion({ kind: 'release', port: 5432, slot: 'custos_0123456789ab' }), { kind: 'release', port: 5432, slot: 'custos_0123456789ab' });
  usage({ kind: 'release', port: 5432, slot: 'pgbackrest' }, /characters that are not allowed/);
  usage({ kind: 'release', port: 5432, slot: "custos_0123456789ab'); DROP" });
  usage({ kind: 'release', port: 0, slot: 'custos_0123456789ab' });
  // The lag watch's question: the same port and slot rules.
  assert.deepEqual(parseQuestion({ kind: 'slot-status', port: 5432, slot: 'custos_0123456789ab' }), { kind: 'slot-status', port: 5432, slot: 'custos_0123456789ab' });
  usage({ kind: 'slot-status', port: 5432, slot: 'custos_X' }, /characters that are not allowed/);
  usage({ kind: 'slot-status', port: 70000, slot: 'custos_0123456789ab' });
  usage({ kind: 'list-dir', path: 'etc', limit: 1 }, /must be absolute/);
  usage({ kind: 'list-dir', path: '/etc/../root', limit: 1 }, /'\.\.'/);
  usage({ kind: 'list-dir', path: '/etc/', limit: 1 }, /written without empty or '\.' components: \/etc$/);
  usage({ kind: 'list-dir', path: '/a\u0000', limit: 1 }, /NUL/);
  usage({ kind: 'list-dir', path: '/a', limit: 0 });
  usage({ kind: 'list-dir', path: '/a', limit: 1001 });
  usage({ kind: 'list-dir', path: '/a', limit: 1, after: cursorOf(Buffer.from('a/b')) });
  usage({ kind: 'list-dir', path: '/a', limit: 1, after: cursorOf(Buffer.from('..')) });
  usage({ kind: 'list-dir', path: '/a', limit: 1, after: '' });
  usage({ kind: 'list-dir', path: '/a', limit: 1, follow: true });
});

test('account questions: a local account name (portable characters, never an option, at most 32 and a $), nothing else', () => {
  const usage = (v: unknown, message?: RegExp) =>
    assert.throws(() => parseQuestion(v), (err: unknown) => err instanceof CustosError && err.code === 'usage' && (!message || message.test(err.message)), JSON.stringify(v));
  for (const name of ['alice', '_svc', 'a.b-c', 'machine$', 'A1', 'x'.repeat(32), 'x'.repeat(32) + '$']) {
    assert.deepEqual(parseQuestion({ kind: 'account', name }), { kind: 'account', name });
  }
  for (const name of ['-x', '--help', '/etc/passwd', 'a/b', 'a b', ' alice', 'alice\u0000', '\u0000', '', '.hidden', 'a$b', '$', 'ali\nce', 'é', 'x'.repeat(33), 'x'.repeat(33) + '$', 'x'.repeat(32) + '$$']) {
    usage({ kind: 'account', name }, /ask\.body\.name /);
  }
  usage({ kind: 'account', name: 'alice', uid: 0 }, /unknown field "uid"/);
  usage({ kind: 'account', name: 'alice', path: '/' }, /unknown field "path"/);
  usage({ kind: 'account' }, /lacks the field name/);
  usage({ kind: 'account', name: 1000 }, /must be a string/);
  usage({ kind: 'account', name: ['alice'] });
});

test('account answers: 32-bit ids (not -1), groups ascending without repeats and holding the primary group, bounded, nothing else', () => {
  const sane = { kind: 'account', name: 'alice', uid: 1000, gid: 1000, groups: [4, 27, 1000] };
  assert.deepEqual(parseAnswerBody(sane), sane);
  const edges = { kind: 'account', name: 'svc$', uid: 0, gid: 0xffff_fffe, groups: [0, 0xffff_fffe] };
  assert.deepEqual(parseAnswerBody(edges), edges);
  const most = Array.from({ length: MAX_ACCOUNT_GROUPS }, (_, i) => i);
  assert.equal((parseAnswerBody({ ...sane, gid: 0, groups: most }) as { groups: readonly number[] }).groups.length, MAX_ACCOUNT_GROUPS);
  // Through the whole message as well.
  assert.ok(!refusedAsUsage({ t: 'answer', req: 3, ok: true, body: sane }));

  const usage = (change: Record<string, unknown>, message?: RegExp) => {
    const v = { ...sane, ...change };
    assert.throws(() => parseAnswerBody(v), (err: unknown) => err instanceof CustosError && err.code === 'usage' && (!message || message.test(err.message)), JSON.stringify(v).slice(0, 120));
    assert.ok(refusedAsUsage({ t: 'answer', req: 3, ok: true, body: v }));
  };
  usage({ groups: [1000, 27] }, /body\.groups\[1\] is not after the group before it/);
  usage({ groups: [4, 1000, 27] }, /body\.groups\[2\] is not after/);
  usage({ groups: [27, 27, 1000] }, /body\.groups\[1\] is not after/);
  usage({ groups: [1000, 1000] }, /is not after/);
  usage({ groups: [4, 27] }, /body\.groups must hold the primary group/);
  usage({ groups: [] }, /must hold the primary group/);
  for (const bad of [-1, 0xffff_ffff, 1.5, '1000', null, Number.NaN, 2 ** 53]) {
    usage({ uid: bad }, /body\.uid must be a whole number from 0 to 4294967294/);
    usage({ gid: bad, groups: [4] }, /body\.gid/);
    usage({ groups: [bad, 1000] }, /body\.groups\[0\]/);
  }
  usage({ gid: 0, groups: [...most, MAX_ACCOUNT_GROUPS] }, /body\.groups has more than 1024 items/);
  usage({ groups: '1000' }, /body\.groups must be an array/);
  usage({ home: '/home/alice' }, /unknown field "home"/);
  usage({ shell: '/bin/sh', groups: [1000] }, /unknown field "shell"/);
  usage({ name: '-alice' }, /body\.name must be an account name/);
  usage({ name: 'a'.repeat(33) }, /body\.name/);
  const missing = { ...sane } as Record<string, unknown>;
  delete missing['uid'];
  assert.throws(() => parseAnswerBody(missing), /lacks the field uid/);
});

test('discover questions carry nothing but their kind', () => {
  assert.deepEqual(parseQuestion({ kind: 'discover' }), { kind: 'discover' });
  assert.throws(() => parseQuestion({ kind: 'discover', path: '/' }), /unknown field "path"/);
  assert.throws(() => parseQuestion({ kind: 'discover', socketDirs: ['/tmp'] }), /unknown field "socketDirs"/);
});

test('discover answers: bounded lists, paths absolute and printable, states consistent, one instance per data directory', () => {
  const fs = { mountPoint: '/', type: 'ext4', device: '/dev/vda', sizeBytes: 100, usedBytes: 40 };
  const pg = {
    kind: 'postgres', port: 5432, socketDir: '/var/run/postgresql', dataDirectory: '/var/lib/postgresql/15/main', version: 15, name: '15/main',
    systemIdentifier: '7716621543573645701', owner: 'postgres', state: 'running', sizeBytes: 1 << 30, logMode: 'logs', protectable: true, why: null,
  };
  const down = { ...pg, port: 5433, socketDir: null, dataDirectory: '/d2', state: 'down', logMode: null, protectable: false, why: 'down: start it', systemIdentifier: null, name: null };
  const sane = { kind: 'discover', fileSystems: [fs], instances: [pg, down], problems: [{ path: '/tmp/.s.PGSQL.1', why: 'pid 1 is not a postgres server' }] };
  assert.deepEqual(parseAnswerBody(sane), sane);
  assert.ok(!refusedAsUsage({ t: 'answer', req: 3, ok: true, body: sane }));
  const usage = (body: unknown, message: RegExp) => {
    assert.throws(() => parseAnswerBody(body), (err: unknown) => err instanceof CustosError && err.code === 'usage' && message.test(err.message), JSON.stringify(body).slice(0, 160));
    assert.ok(refusedAsUsage({ t: 'answer', req: 3, ok: true, body }));
  };
  const withInstance = (change: Record<string, unknown>) => ({ ...sane, instances: [{ ...pg, ...change }] });
  const withFs = (change: Record<string, unknown>) => ({ ...sane, fileSystems: [{ ...fs, ...change }] });
  usage(withFs({ usedBytes: 101 }), /usedBytes is more than sizeBytes/);
  usage(withFs({ mountPoint: 'relative' }), /mountPoint must be an absolute path/);
  usage(withFs({ mountPoint: '/\u001b[2J' }), /mountPoint has characters/);
  usage(withFs({ type: 'ext4 ; rm' }), /type has characters/);
  usage(withFs({ sizeBytes: -1 }), /sizeBytes must be a non-negative/);
  usage(withInstance({ port: 0 }), /port must be a whole number from 1 to 65535/);
  usage(withInstance({ kind: 'mysql' }), /kind must be one of postgres/);
  usage(withInstance({ state: 'down' }), /socketDir must be null exactly when the instance is down/);
  usage(withInstance({ state: 'standby' }), /protectable must be false/);
  usage(withInstance({ protectable: false }), /why must say why/);
  usage(withInstance({ protectable: false, why: 'x' }), /logMode must be given exactly for a protectable instance/);
  usage(withInstance({ logMode: null }), /logMode must be given exactly/);
  usage(withInstance({ logMode: 'full-only' }), /why must say why the instance is protected by express fulls only/);
  usage(withInstance({ logMode: 'wal' }), /logMode must be one of logs, full-only/);
  usage(withInstance({ why: 'line\nbreak' }), /why has characters/);
  usage(withInstance({ systemIdentifier: '0' }), /systemIdentifier has characters/);
  usage(withInstance({ systemIdentifier: '18446744073709551616' }), /must fit in 64 bits/);
  usage(withInstance({ owner: 'a\u0007' }), /owner has characters/);
  usage(withInstance({ name: '15 main' }), /name has characters/);
  usage(withInstance({ dataDirectory: '/x'.repeat(3000) }), /longer than 4096/);
  usage(withInstance({ password: 'x' }), /unknown field "password"/);
  usage({ ...sane, instances: [pg, { ...pg, port: 5434 }] }, /instances\[1\] repeats a data directory/);
  usage({ ...sane, problems: Array.from({ length: 257 }, () => sane.problems[0]) }, /problems has more than 256 items/);
  usage({ ...sane, problems: [{ path: '/x', why: 'y'.repeat(501) }] }, /longer than 500/);
  usage({ kind: 'discover', fileSystems: [], instances: [] }, /lacks the field problems/);
});
