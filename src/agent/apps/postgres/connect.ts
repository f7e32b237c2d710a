/**
 * A connection to a local cluster as its owner (docs/design/postgresql.md
 * §3.2). The agent runs as root, which is no PostgreSQL role, and peer
 * authentication takes the uid the kernel recorded at connect(). So a
 * short-lived child runs as the owner, connects to the Unix socket, hands
 * the connected socket to the agent over Node's IPC channel (SCM_RIGHTS)
 * and exits; the agent then speaks the protocol on it with `pg`.
 */
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { CustosError } from '../../../base/index.js';

/** What the child runs: connect to argv[1], send the socket to the parent, exit. Nothing else is in its reach. */
const CONNECTOR = `
const net = require('node:net');
const s = net.connect(process.argv[1]);
const fail = (e) => { process.send({ error: String(e && e.code || e) }, () => process.exit(1)); };
s.once('error', fail);
s.once('connect', () => { s.pause(); process.send({ ok: true }, s, () => process.exit(0)); });
setTimeout(() => fail('ETIMEDOUT'), 8000).unref();
`;

export interface OwnerTarget {
  readonly socketDir: string;
  readonly port: number;
  readonly uid: number;
  readonly gid: number;
  /** The owner's account name: the role peer authentication lets it be. */
  readonly user: string;
}

export interface ConnectOptions {
  readonly database?: string;
  /** A physical replication connection (START_REPLICATION, IDENTIFY_SYSTEM). */
  readonly replication?: boolean;
  readonly timeoutMs?: number;
}

/** The connected Unix socket, opened by a child running as uid/gid. */
export function socketAsOwner(target: OwnerTarget, timeoutMs = 10_000): Promise<Socket> {
  const path = join(target.socketDir, `.s.PGSQL.${target.port}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CONNECTOR, path], {
      uid: target.uid, gid: target.gid, cwd: '/', env: {}, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json',
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-2000)));
    let settled = false;
    const done = (err: Error | null, socket?: Socket) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        child.kill('SIGKILL');
        socket?.destroy();
        reject(err);
      } else resolve(socket!);
    };
    const timer = setTimeout(() => done(new CustosError('io', `no connection to ${path} as uid ${target.uid} within ${timeoutMs} ms`)), timeoutMs);
    child.on('message', (m: unknown, handle: unknown) => {
      if (settled) {
        (handle as Socket | undefined)?.destroy?.(); // too late: never leave a connection open
        return;
      }
      const msg = m as { ok?: boolean; error?: string };
      if (msg.ok && handle && typeof (handle as Socket).write === 'function') done(null, handle as Socket);
      else done(new CustosError('io', `cannot connect to ${path} as ${target.user}: ${msg.error ?? 'no socket came back'}`));
    });
    child.once('error', (e) => done(new CustosError('io', `cannot start the connector as ${target.user}: ${e.message}`)));
    // 'close' comes after the IPC channel's last message (and stderr) were handled; 'exit' may come before them.
    child.once('close', (code, signal) => {
      if (!settled) done(new CustosError('io', `the connector as ${target.user} ended (${code ?? signal}) without a connection${stderr ? `: ${stderr.trim().slice(0, 300)}` : ''}`));
    });
  });
}

/**
 * A `pg` client on a socket opened as the owner. pg calls connect() on the
 * stream it is given: here that only announces the socket already open.
 */
export async function connectAsOwner(target: OwnerTarget, options: ConnectOptions = {}): Promise<pg.Client> {
  const socket = await socketAsOwner(target, options.timeoutMs);
  const stream = socket as unknown as { connect: () => Socket };
  stream.connect = () => {
    process.nextTick(() => {
      socket.resume();
      socket.emit('connect');
    });
    return socket;
  };
  const client = new pg.Client({
    stream: () => socket,
    user: target.user,
    database: options.database ?? 'postgres',
    application_name: 'custos',
    connectionTimeoutMillis: options.timeoutMs ?? 10_000,
    ...(options.replication ? { replication: 'true' } : {}),
  } as pg.ClientConfig);
  // A connection that ends while no query runs is reported as an 'error' event: without a listener it
  // would be an uncaught exception in a root process. The next query fails with it instead.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (e) {
    socket.destroy();
    throw new CustosError('io', `PostgreSQL on port ${target.port} refused ${target.user}: ${(e as Error).message}`);
  }
  return client;
}
