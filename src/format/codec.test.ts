import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { BlobCodec, FLAG_ENCRYPTED, FLAG_ZSTD } from './codec.js';
import { createEncryption, openEncryption } from './keys.js';
import { IntegrityError, CustosError } from '../base/index.js';

const secret = Buffer.from('correct horse battery staple');
const { config, keys } = createEncryption(secret);
const plain = new BlobCodec({ keys: null, compressionLevel: 3 });
const sealed = new BlobCodec({ keys, compressionLevel: 3 });

test('chunks round-trip through the codec, plain and encrypted', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 20000 }), fc.boolean(), (data, repetitive) => {
      const input = repetitive ? Buffer.from(Buffer.from(data).toString('hex').repeat(3)) : Buffer.from(data);
      for (const codec of [plain, sealed]) {
        const id = codec.chunkIdBytes(input);
        const blob = codec.encodeChunk(id, input);
        assert.deepEqual(codec.decodeChunk(id, blob), input);
      }
    }),
    { numRuns: 150 },
  );
});

test('pool objects round-trip and are bound to their kind', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 5000 }), (data) => {
      for (const codec of [plain, sealed]) {
        const blob = codec.encodeObject('point', data);
        assert.deepEqual(codec.decodeObject('point', blob), Buffer.from(data));
        assert.throws(() => codec.decodeObject('index', blob), IntegrityError);
      }
    }),
    { numRuns: 100 },
  );
});

test('compression is used for compressible data and skipped for random data', () => {
  const text = Buffer.from('the same line again\n'.repeat(1000));
  const blob = plain.encodeChunk(plain.chunkIdBytes(text), text);
  assert.equal(blob[3]! & FLAG_ZSTD, FLAG_ZSTD);
  assert.ok(blob.length < text.length / 10);
  const noise = randomBytes(10000);
  const raw = plain.encodeChunk(plain.chunkIdBytes(noise), noise);
  assert.equal(raw[3]! & FLAG_ZSTD, 0);
  assert.equal(sealed.encodeChunk(sealed.chunkIdBytes(noise), noise)[3]! & FLAG_ENCRYPTED, FLAG_ENCRYPTED);
});

test('every flipped byte of a stored chunk is detected', () => {
  const data = Buffer.from('important data '.repeat(50));
  for (const codec of [plain, sealed]) {
    const id = codec.chunkIdBytes(data);
    const blob = codec.encodeChunk(id, data);
    for (let i = 0; i < blob.length; i++) {
      const bad = Buffer.from(blob);
      bad[i]! ^= 0x01;
      assert.throws(() => codec.decodeChunk(id, bad), (err: unknown) => err instanceof CustosError, `byte ${i} flipped went unnoticed`);
    }
  }
});

test('encrypted chunk ids are keyed: the same plaintext has a different id under another key', () => {
  const other = new BlobCodec({ keys: createEncryption(Buffer.from('another secret')).keys, compressionLevel: 3 });
  const data = Buffer.from('guessable plaintext');
  assert.notDeepEqual(sealed.chunkIdBytes(data), plain.chunkIdBytes(data));
  assert.notDeepEqual(sealed.chunkIdBytes(data), other.chunkIdBytes(data));
});

test('a chunk sealed for one id does not decode as another', () => {
  const a = Buffer.from('chunk a');
  const b = Buffer.from('chunk b');
  const blob = sealed.encodeChunk(sealed.chunkIdBytes(a), a);
  assert.throws(() => sealed.decodeChunk(sealed.chunkIdBytes(b), blob), IntegrityError);
});

test('the right key opens the pool, a wrong key is refused', () => {
  assert.deepEqual(openEncryption(config, secret), keys);
  assert.throws(() => openEncryption(config, Buffer.from('wrong')), (err: unknown) => err instanceof CustosError && err.code === 'bad-key');
});

test('decodeChunkShared returns what decodeChunk returns (in a reused buffer) and refuses what verifyChunk refuses', () => {
  const texts = [Buffer.from('z'.repeat(300_000)), Buffer.from('abc'.repeat(5000)), randomBytes(3000), Buffer.alloc(0), Buffer.from('q'.repeat(100))];
  for (const codec of [plain, sealed]) {
    for (const data of texts) {
      const id = codec.chunkIdBytes(data);
      const blob = codec.encodeChunk(id, data);
      assert.ok(codec.decodeChunkShared(id, blob, data.length).equals(data));
      assert.throws(() => codec.decodeChunkShared(id, blob, data.length + 1), IntegrityError);
      assert.throws(() => codec.decodeChunkShared(codec.chunkIdBytes(Buffer.from('other')), blob, data.length), IntegrityError);
      const bad = Buffer.from(blob);
      bad[bad.length - 1]! ^= 0x01;
      assert.throws(() => codec.decodeChunkShared(id, bad, data.length), IntegrityError);
    }
  }
});

test('verifyChunk accepts what decodeChunk accepts and refuses a wrong length, id or byte', () => {
  const texts = [Buffer.from('abc'.repeat(5000)), randomBytes(3000), Buffer.alloc(0), Buffer.from('z'.repeat(300_000))];
  for (const codec of [plain, sealed]) {
    // Large first, then small: the reused buffer must not leak bytes of an earlier chunk into a later one.
    for (const data of [texts[3]!, ...texts]) {
      const id = codec.chunkIdBytes(data);
      const blob = codec.encodeChunk(id, data);
      codec.verifyChunk(id, blob, data.length);
      assert.throws(() => codec.verifyChunk(id, blob, data.length + 1), IntegrityError);
      if (data.length > 0) assert.throws(() => codec.verifyChunk(id, blob, data.length - 1), IntegrityError);
      assert.throws(() => codec.verifyChunk(codec.chunkIdBytes(Buffer.from('other')), blob, data.length), IntegrityError);
      for (const at of [4, Math.floor(blob.length / 2), blob.length - 1]) {
        if (at < 4 || at >= blob.length) continue; // past the header (a bad version is a format error, not damage)
        const bad = Buffer.from(blob);
        bad[at]! ^= 0x01;
        assert.throws(() => codec.verifyChunk(id, bad, data.length), IntegrityError, `byte ${at} of ${blob.length}`);
      }
    }
  }
  assert.throws(() => sealed.verifyChunk(Buffer.alloc(32), Buffer.alloc(40), 64 * 1024 * 1024), IntegrityError);
});

test("transport form: an agent's codec (id key only) makes chunks the server seals, and reads what the server opens", () => {
  const agent = new BlobCodec({ keys: { idKey: keys.idKey }, compressionLevel: 3 });
  assert.equal(agent.encrypted, false);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 20000 }), fc.boolean(), (data, repetitive) => {
      const input = repetitive ? Buffer.from(Buffer.from(data).toString('hex').repeat(3)) : Buffer.from(data);
      const id = agent.chunkIdBytes(input);
      assert.deepEqual(id, sealed.chunkIdBytes(input), 'the same keyed id as the pool');
      const transport = agent.encodeChunk(id, input);
      assert.equal(transport[3]! & FLAG_ENCRYPTED, 0, 'never encrypted');
      const stored = sealed.sealTransport(id, transport, input.length);
      assert.equal(stored[3]! & FLAG_ENCRYPTED, FLAG_ENCRYPTED);
      assert.deepEqual(sealed.decodeChunk(id, stored), input, 'stored: the pool reads it');
      assert.throws(() => agent.decodeChunk(id, stored), IntegrityError, 'the agent cannot read a stored blob');
      const back = sealed.toTransport(id, stored);
      assert.deepEqual(agent.decodeChunk(id, back), input, 'out: the agent reads it');
      // An unencrypted pool: both forms are the same bytes.
      const pid = plain.chunkIdBytes(input);
      const blob = plain.encodeChunk(pid, input);
      assert.deepEqual(Buffer.from(plain.sealTransport(pid, blob, input.length)), blob);
      assert.deepEqual(plain.toTransport(pid, blob), blob);
    }),
    { numRuns: 150 },
  );
});

test('sealTransport refuses a wrong id, length or compression and an encrypted blob', () => {
  const agent = new BlobCodec({ keys: { idKey: keys.idKey }, compressionLevel: 3 });
  const data = Buffer.from('transport '.repeat(500));
  const id = agent.chunkIdBytes(data);
  const blob = agent.encodeChunk(id, data);
  assert.equal(blob[3], FLAG_ZSTD);
  assert.throws(() => sealed.sealTransport(agent.chunkIdBytes(Buffer.from('x')), blob, data.length), /does not match its id/);
  assert.throws(() => sealed.sealTransport(id, blob, data.length + 1), IntegrityError);
  assert.throws(() => sealed.sealTransport(id, blob, 2 ** 32), /out of range/);
  const broken = Buffer.from(blob);
  broken[10]! ^= 0xff;
  assert.throws(() => sealed.sealTransport(id, broken, data.length), IntegrityError);
  assert.throws(() => sealed.sealTransport(id, sealed.encodeChunk(id, data), data.length), /never encrypted/);
  // A stored blob whose tag does not match is not opened for an agent.
  const stored = Buffer.from(sealed.sealTransport(id, blob, data.length));
  stored[stored.length - 1]! ^= 1;
  assert.throws(() => sealed.toTransport(id, stored), IntegrityError);
});
