#!/usr/bin/env node
// `npm start`: the standalone demo. Protects a sample folder into an
// encrypted storage pool under ./custos-data, shows the recovery points,
// recovers the newest one, and prints commands to try next.
// (The protection server will replace this with `custos server start`.)
import { existsSync, mkdirSync, writeFileSync, appendFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { main } from '../dist/src/cli/main.js';

const data = resolve('custos-data');
const sample = join(data, 'sample');
const pool = join(data, 'pool');
const key = join(data, 'pool.key');
const restored = join(data, 'restored');

async function custos(...args) {
  console.log(`\n$ custos ${args.join(' ')}`);
  const code = await main(args);
  if (code !== 0) {
    console.error(`custos exited with status ${code}`);
    process.exit(code);
  }
}

if (!existsSync(sample)) {
  mkdirSync(join(sample, 'documents'), { recursive: true });
  mkdirSync(join(sample, 'photos'), { recursive: true });
  writeFileSync(join(sample, 'documents', 'report.txt'), 'Quarterly report\n'.repeat(2000));
  writeFileSync(join(sample, 'documents', 'notes.md'), '# Notes\n\n- protect everything\n- recover anything\n');
  writeFileSync(join(sample, 'photos', 'holiday.raw'), Buffer.alloc(3 * 1024 * 1024, 7));
  writeFileSync(join(sample, 'song.mp3'), 'not really music');
}
if (!existsSync(join(pool, 'config'))) await custos('pool', 'init', pool, '--encrypt', '--key-file', key);

await custos('backup', sample, '--pool', pool, '--key-file', key, '--exclude', '*.mp3');
appendFileSync(join(sample, 'documents', 'notes.md'), `- changed at ${new Date().toISOString()}\n`);
await custos('backup', sample, '--pool', pool, '--key-file', key, '--exclude', '*.mp3');
await custos('points', '--pool', pool, '--key-file', key);
rmSync(restored, { recursive: true, force: true });
await custos('restore', 'latest', restored, '--pool', pool, '--key-file', key);
await custos('pool', 'stats', pool, '--key-file', key);

console.log(`
Custos protected ${sample}
into the encrypted storage pool ${pool} (key: ${key})
and recovered the newest recovery point into ${restored}.

Try next:
  npx custos points --pool ${pool} --key-file ${key}
  npx custos restore latest /tmp/recovered --pool ${pool} --key-file ${key} --item documents/notes.md
  npx custos pool verify ${pool} --key-file ${key}
`);
