#!/usr/bin/env node
// `npm start`: the embedded default. Starts the protection server with its
// data in ./custos-data (SQLite catalog, storage pool on local disk, HTTPS on
// 127.0.0.1:8440), attaches a local protection agent, protects a sample
// folder with a demo protection group, and keeps running until Ctrl-C.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startServer, readAdminToken } from '../dist/src/server/index.js';
import { AgentRuntime, attachAgent } from '../dist/src/agent/index.js';
import { main } from '../dist/src/cli/main.js';
import { ServerClient } from '../dist/src/cli/client.js';
import { api } from '../dist/src/protocol/rest/index.js';

const data = resolve(process.env.CUSTOS_DATA ?? 'custos-data');
const listen = process.env.CUSTOS_LISTEN ?? '127.0.0.1:8440';
const [host, port] = [listen.slice(0, listen.lastIndexOf(':')), Number(listen.slice(listen.lastIndexOf(':') + 1))];
const serverDir = join(data, 'server');
const agentDir = join(data, 'agent');
const sample = join(data, 'sample');
const quiet = () => {};

if (!existsSync(sample)) {
  mkdirSync(join(sample, 'documents'), { recursive: true });
  mkdirSync(join(sample, 'photos'), { recursive: true });
  writeFileSync(join(sample, 'documents', 'report.txt'), 'Quarterly report\n'.repeat(2000));
  writeFileSync(join(sample, 'documents', 'notes.md'), '# Notes\n\n- protect everything\n- recover anything\n');
  writeFileSync(join(sample, 'photos', 'holiday.raw'), Buffer.alloc(3 * 1024 * 1024, 7));
  writeFileSync(join(sample, 'song.mp3'), 'not really music');
}

let server;
try {
  server = await startServer({ dataDir: serverDir, host, port, log: quiet });
} catch (err) {
  console.error(`custos: cannot start the protection server on ${listen}: ${err.message}`);
  console.error('(another one running? set CUSTOS_LISTEN=127.0.0.1:PORT to use another port)');
  process.exit(1);
}
process.env.CUSTOS_SERVER = server.url;
process.env.CUSTOS_TOKEN = await readAdminToken(serverDir);
process.env.CUSTOS_CA = join(serverDir, 'ca.pem');

async function custos(...args) {
  const code = await main(args);
  if (code !== 0) throw new Error(`custos ${args.join(' ')} exited with status ${code}`);
}

const agentName = 'local';
const client = new ServerClient();
if (!existsSync(join(agentDir, 'agent.json'))) {
  // The same steps an administrator runs: a one-time enrollment token, then attach.
  const { token } = await client.call(api.createEnrollmentToken, { body: { expires: '10m' } });
  await attachAgent({ server: server.url, token, dataDir: agentDir, name: agentName });
}
const agent = await AgentRuntime.start({ dataDir: agentDir, log: quiet });
await agent.ready;

const source = `${agentName}:fs:${sample}`;
const groups = await client.call(api.listGroups);
if (!groups.some((g) => g.name === 'demo')) {
  await custos('group', 'create', 'demo', '--source', source, '--sync', '15m', '--points', '08:00,12:00,20:00', '--exclude', '*.mp3');
}
// The replica is created at once ("replica now"); wait for it.
for (let i = 0; i < 120; i++) {
  const s = await client.call(api.getSource, { params: { id: source } });
  if (s.newestPoint) break;
  await new Promise((r) => setTimeout(r, 500));
}
await custos('point', 'list', source);

// A console user to sign in with: "admin", with a random password kept beside the admin token (0600).
const passwordFile = join(serverDir, 'console-admin.password');
if (!(await client.call(api.listUsers)).some((u) => u.name === 'admin')) {
  const password = randomBytes(12).toString('base64url');
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  await client.call(api.createUser, { body: { name: 'admin', role: 'admin', password } });
}

console.log(`
Custos protection server: ${server.url}
  console:     ${server.url}/  (sign in as admin; ${existsSync(passwordFile) ? `the password is in ${passwordFile}` : 'set its password with: npx custos user passwd admin'})
  data:        ${serverDir}
  admin token: ${join(serverDir, 'admin.token')}
  protecting:  ${sample} (protection group "demo", agent "${agentName}")

In another terminal:
  export CUSTOS_SERVER=${server.url} CUSTOS_TOKEN=$(cat ${join(serverDir, 'admin.token')}) CUSTOS_CA=${join(serverDir, 'ca.pem')}
  npx custos source list
  npx custos point create '${source}' --wait
  npx custos recover '${source}' --point latest --to ${agentName}:/tmp/recovered --wait

Ctrl-C stops the server and the agent.`);

await new Promise((resolve) => {
  const stop = () => resolve();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
});
await agent.stop();
await server.close();
