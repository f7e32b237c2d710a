/**
 * The protection server: the wiring root. It builds the catalog, the storage
 * pool, the agent hub, the job engine and the HTTPS port that serves the REST
 * API, the agent endpoint (client certificates) and /metrics.
 */
import { DEFAULT_SLOT_ALERT_BYTES, SlotWatch } from './app-watch.js';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { resolve } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { WebSocketServer } from 'ws';
import { CustosError, errorMessage, systemClock, type ChunkId, type Clock, type RecoveryPointId } from '../base/index.js';
import { Catalog } from '../catalog/index.js';
import { Pool, type PoolLock } from '../pool/index.js';
import { AGENT_CONNECT_PATH, PROTOCOL_VERSION, certificateSerial } from '../protocol/index.js';
import { AgentHub } from './agent-hub.js';
import { EndUserRecovery } from './end-user.js';
import { ManifestPointContent } from './file-index/point-content.js';
import { AlertService } from './alerts.js';
import { AuditLog } from './audit.js';
import { makeAuthHook } from './auth.js';
import type { ServerContext } from './context.js';
import { catalogFiles, fileIndexFiles, loadOrCreateCa, loadOrIssueServerCertificate, secureDataDir, serverFiles } from './data-dir.js';
import { makePrivateFiles } from '../agent/remote/private-files.js';
import { ensureAdminToken, guardCatalog } from './catalog-guard.js';
import { CatalogBackupService } from './catalog-backup.js';
import { registerCatalogRoutes } from './routes/api/catalog.js';
import { errorBody } from './http-errors.js';
import { JobEngine } from './job-engine.js';
import { LiveEvents } from './live-events.js';
import { registerEventRoutes } from './routes/api/events.js';
import { ConsoleAssets } from './console-assets.js';
import { installSecurityHeaders, registerConsoleRoutes } from './routes/console.js';
import { FileIndex } from './file-index/file-index.js';
import { FileIndexService } from './file-index/service.js';
import { PoolMaintenance, type MaintenanceLimits } from './pool-maintenance.js';
import { resolveRecoveryDirs, ServerRecoveries } from './server-recovery.js';
import { registerAgentRoutes } from './routes/api/agents.js';
import { registerAlertRoutes } from './routes/api/alerts.js';
import { registerDataSourceRoutes } from './routes/api/data-sources.js';
import { registerDownloadRoutes } from './routes/api/downloads.js';
import { registerDataSourceFileRoutes } from './routes/api/data-source-files.js';
import { registerGroupRoutes } from './routes/api/protection-groups.js';
import { registerJobRoutes } from './routes/api/jobs.js';
import { registerTokenRoutes } from './routes/api/tokens.js';
import { registerUserRoutes } from './routes/api/users.js';
import { registerPoolRoutes } from './routes/api/pool.js';
import { registerPlanRoutes } from './routes/api/plan.js';
import { registerMetricsRoute } from './routes/metrics.js';
import { registerNotificationRoutes } from './routes/api/notifications.js';
import { NotificationService } from './notify/notifications.js';
import { registerReportRoutes } from './routes/api/reports.js';
import { registerMyFilesRoutes } from './routes/api/my-files.js';
import { MyFilesAccess } from './my-files.js';
import { ReportService } from './reports/report-service.js';
import { ReportScheduler } from './reports/report-schedule.js';
import { installAudit, installValidators, serve } from './routes/serve.js';
import { api } from '../protocol/rest/index.js';
import { CSRF_HEADER, SESSION_COOKIE } from './sessions.js';

export const SERVER_VERSION = '0.1.0';

export interface ServerOptions {
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  readonly clock?: Clock;
  /** How often the dispatcher looks for work (the scheduler runs once per clock minute). */
  readonly tickMs?: number;
  readonly log?: (line: string) => void;
  /** Bounds of pool maintenance runs (tests shorten the gc grace period). */
  readonly maintenance?: Partial<MaintenanceLimits>;
  /** Start with an empty catalog although the data directory has been used (a damaged catalog is set aside). */
  readonly newCatalog?: boolean;
  /** A directory that gets a copy of every catalog backup. */
  readonly catalogCopyDir?: string;
  /** Directories of this computer that recoveries may write into (`--to server:/path`); none: such recoveries are refused. */
  readonly recoveryDirs?: readonly string[];
  /** The lag watch's alert: a PostgreSQL data source's slot holding this many bytes of WAL (default DEFAULT_SLOT_ALERT_BYTES). */
  readonly slotAlertBytes?: number;
  /** A CA certificate (PEM) the mail server's certificate may chain to, besides the system's (a private CA; tests). */
  readonly smtpCa?: string;
  /** How often the notification sender looks at its outbox, in real time (default 1 s; it is also woken when a message is queued). */
  readonly notifyTickMs?: number;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly context: ServerContext;
  /** Sends a request through the whole HTTP pipeline (routing, hooks, validation) without a socket: for tests. */
  inject(request: InjectRequest): Promise<{ status: number; text: string }>;
  close(): Promise<void>;
}

export interface InjectRequest {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PATCH' | 'PUT' | 'DELETE' | 'OPTIONS';
  /** Sent as it is: no normalisation of dot segments, slashes, case or percent-encoding. */
  readonly url: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

export function jsonLogger(write: (line: string) => void = (l) => process.stdout.write(l + '\n')): (message: string, level?: string) => void {
  return (message, level = 'info') => write(JSON.stringify({ time: new Date().toISOString(), level, msg: message }));
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const dir = resolve(options.dataDir);
  const files = serverFiles(dir);
  const clock = options.clock ?? systemClock;
  const log = jsonLogger(options.log);
  const warn = (message: string) => log(message, 'warning');
  await secureDataDir(files, warn);
  const recoveryDirs = resolveRecoveryDirs(options.recoveryDirs ?? [], dir);

  // Before anything is created: a lost or damaged catalog stops the start here.
  await guardCatalog(files, { newCatalog: options.newCatalog ?? false, now: clock.now(), log });
  const ca = await loadOrCreateCa(files);
  const tls = await loadOrIssueServerCertificate(files, ca, options.host);
  const catalog = await Catalog.openSqlite(files.catalog);
  await makePrivateFiles(catalogFiles(files), warn); // a new catalog is created with the umask's mode
  let lock: PoolLock | null = null;
  let app: FastifyInstance | null = null;
  try {
    if (!existsSync(files.pool)) {
      await Pool.init(files.pool, { keyFile: files.poolKey });
      log(`storage pool created at ${files.pool} (key ${files.poolKey}: back it up, the pool cannot be read without it)`);
    }
    const pool = await Pool.open(files.pool, { keyFile: files.poolKey });
    lock = await pool.lock('shared', 'server');
    await pool.loadIndex();

    await ensureAdminToken(catalog, files, clock, log);

    let alerts!: AlertService;
    const journalMisses = new Map<string, number>();
    let endUser!: EndUserRecovery;
    const hub = new AgentHub({
      userRequest: (name, m, session) => endUser.handle(name, m, session),
      connected: (name, hello) => {
        // version and hostname are checked (printable, bounded) by the agent-message validator.
        void catalog.updateAgent(name, { last_seen: clock.now().toISOString(), version: hello.version, hostname: hello.hostname });
        void alerts.agentConnected(name, clock.now());
        engine.kick();
      },
      disconnected: (name) => {
        log(`agent ${name} disconnected`);
        void catalog.updateAgent(name, { last_seen: clock.now().toISOString() });
      },
      journalLost: (name, sourceId, reason) => {
        void (async () => {
          const s = await catalog.source(sourceId);
          if (s && s.agent === name && s.kind === 'fs' && s.replica_state === 'ok') {
            await alerts.markInconsistent(sourceId, reason, clock.now());
            engine.scheduleNow(); // the automatic consistency check is due now, not at the next minute
          }
        })();
      },
    });
    alerts = new AlertService(catalog, () => hub.connected(), (m) => log(m, 'warning'));
    const maintenance = new PoolMaintenance({ pool, catalog, alerts, clock, limits: options.maintenance });
    const catalogBackups = new CatalogBackupService({
      catalog, pool, dataDir: dir, copyDir: options.catalogCopyDir ? resolve(options.catalogCopyDir) : null, serverVersion: SERVER_VERSION, clock,
    });
    const fileIndex = new FileIndexService(
      FileIndex.open(files.fileIndex, {
        loadPoint: (id) => pool.loadPoint(id as RecoveryPointId),
        readPage: (id) => pool.readChunk(id as ChunkId),
        pointsOf: async (source) => (await catalog.listPoints(source, true)).map((p) => ({ id: p.id, time: p.time })),
      }, (m) => log(m, 'warning')),
      catalog, log,
    );
    await makePrivateFiles(fileIndexFiles(files), warn);
    const serverRecoveries = new ServerRecoveries({ pool, recoveryDirs, dataDir: dir });
    const audit = new AuditLog(catalog, clock, (m) => log(m, 'error'));
    const notifications = new NotificationService({ catalog, clock, audit, log, ...(options.smtpCa ? { smtpCa: options.smtpCa } : {}) });
    alerts.watch(notifications);
    const engine = new JobEngine({
      catalog, hub, pool, clock, alerts, maintenance, catalogBackups, serverRecoveries, log: (m) => log(m, 'error'),
      pointsChanged: (source) => fileIndex.sourceChanged(source),
      journalMissed: (source, n) => journalMisses.set(source, (journalMisses.get(source) ?? 0) + n),
      jobEnded: (job, state, error, result) => notifications.jobEnded(job, state, error, result),
      slotWatch: new SlotWatch({ catalog, hub, alerts, clock, log: (m) => log(m, 'error'), alertBytes: options.slotAlertBytes ?? DEFAULT_SLOT_ALERT_BYTES }),
    });
    endUser = new EndUserRecovery({ catalog, pool, index: fileIndex.index, content: new ManifestPointContent(pool), audit });
    const events = new LiveEvents(catalog);
    const myFiles = new MyFilesAccess({ catalog, hub, clock });
    const ctx: ServerContext = {
      version: SERVER_VERSION, catalog, pool, fileIndex, hub, engine, alerts, events, audit, notifications, maintenance, clock, files, ca, log, journalMisses, serverRecoveries, endUser, myFiles,
    };
    const reports = new ReportService({ catalog, clock, poolUsage: () => maintenance.usage([]), connectedAgents: () => hub.connected() });
    const reportScheduler = new ReportScheduler({ catalog, reports, serverName: () => notifications.serverName(), log });
    notifications.onPass((now) => reportScheduler.queueDue(now));

    const consoleAssets = await ConsoleAssets.load();
    if (!consoleAssets) warn('the web console is not built (npm run build): the server runs without it');
    app = Fastify({
      logger: false,
      https: { key: tls.keyPem, cert: tls.certPem, ca: [ca.certPem], requestCert: true, rejectUnauthorized: false },
      bodyLimit: 1024 * 1024,
    });
    installValidators(app);
    await app.register(swagger, {
      openapi: {
        info: { title: 'Custos protection server', version: SERVER_VERSION, description: 'REST API (docs/design/rest-api.md)' },
        components: {
          securitySchemes: {
            bearer: { type: 'http', scheme: 'bearer', description: 'an API token (custos token create)' },
            session: {
              type: 'apiKey', in: 'cookie', name: SESSION_COOKIE,
              description: `a console session (POST /api/sign-in); every call but GET and HEAD also sends the session's CSRF token in ${CSRF_HEADER}`,
            },
          },
        },
        security: [{ bearer: [] }, { session: [] }],
      },
    });
    app.setErrorHandler(async (err, _req, reply) => {
      const { status, body } = errorBody(err);
      if (status >= 500) log(`api error: ${errorMessage(err)}`, 'error');
      await reply.code(status).send(body);
    });
    app.setNotFoundHandler(async (req, reply) => {
      await reply.code(404).send({ error: { code: 'not-found', message: `no such call: ${req.method} ${req.url.split('?')[0]}` } });
    });
    installSecurityHeaders(app);
    app.addHook('onRequest', makeAuthHook({ catalog, clock }));
    installAudit(app, audit);
    serve(app, api.health, async () => ({ status: 'ok' as const, version: SERVER_VERSION }));
    serve(app, api.openapi, async () => app!.swagger());
    registerEventRoutes(app, ctx);
    registerConsoleRoutes(app, consoleAssets);
    registerTokenRoutes(app, ctx);
    registerUserRoutes(app, ctx);
    registerAgentRoutes(app, ctx);
    registerGroupRoutes(app, ctx);
    registerDataSourceRoutes(app, ctx);
    registerDataSourceFileRoutes(app, ctx);
    registerDownloadRoutes(app, ctx);
    registerJobRoutes(app, ctx);
    registerAlertRoutes(app, ctx);
    registerPoolRoutes(app, ctx);
    registerPlanRoutes(app, ctx);
    registerCatalogRoutes(app, ctx);
    registerNotificationRoutes(app, ctx);
    registerReportRoutes(app, ctx, reports);
    registerMyFilesRoutes(app, ctx);
    registerMetricsRoute(app, ctx);

    // The agent endpoint: a WebSocket upgrade that requires a valid, unrevoked client certificate.
    const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 * 1024 });
    app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      void (async () => {
        const refuse = (status: number, why: string) => {
          socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Not Found'}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${why}\n`);
        };
        if ((req.url ?? '').split('?')[0] !== AGENT_CONNECT_PATH) return refuse(404, 'no such endpoint');
        const tlsSocket = req.socket as TLSSocket;
        const peer = tlsSocket.getPeerCertificate();
        if (!tlsSocket.authorized || !peer?.subject) return refuse(401, 'a client certificate issued by this server is required (attach the agent first)');
        const name = String(peer.subject.CN);
        const agent = await catalog.agent(name);
        const serial = certificateSerial(peer.raw ? `-----BEGIN CERTIFICATE-----\n${peer.raw.toString('base64')}\n-----END CERTIFICATE-----\n` : '');
        if (!agent || agent.revoked_at || agent.cert_serial !== serial) {
          log(`refused agent connection for ${name}: ${!agent ? 'unknown agent' : 'certificate revoked or replaced'}`, 'warning');
          return refuse(403, 'this agent certificate has been revoked or replaced');
        }
        wss.handleUpgrade(req, socket, head, (ws) => {
          hub.attach(name, ws, (m) => log(m, 'warning'));
          ws.send(JSON.stringify({ t: 'welcome', agent: name, protocol: PROTOCOL_VERSION }));
          log(`agent ${name} connected`);
        });
      })().catch((err: unknown) => {
        log(`agent upgrade failed: ${errorMessage(err)}`, 'error');
        socket.destroy();
      });
    });

    const interrupted = await engine.recoverInterrupted();
    if (interrupted > 0) log(`${interrupted} job(s) were interrupted by the last shutdown; they are retried`, 'warning');
    await app.listen({ host: options.host, port: options.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host === '0.0.0.0' ? '127.0.0.1' : options.host;
    const url = `https://${hostForUrl}:${port}`;
    engine.start(options.tickMs ?? 1000);
    // The console's address for links in mails: known when the server listens on a name or address people can reach.
    const wildcard = ['0.0.0.0', '::', '[::]'].includes(options.host);
    notifications.setConsoleUrl(wildcard ? null : url);
    notifications.start(options.notifyTickMs ?? 1000);
    fileIndex.everythingChanged(); // points from before the index, or after a catalog restore: indexed in the background
    log(`protection server listening on ${url} (data ${dir})`);
    if (recoveryDirs.length > 0) log(`recoveries may write to folders under ${recoveryDirs.join(', ')} (--recovery-dir)`);

    let closing: Promise<void> | null = null;
    const close = () => {
      closing ??= (async () => {
        await engine.stop();
        await notifications.stop();
        for (const s of hub.sessions.values()) s.close(1001, 'server shutting down');
        wss.close();
        events.close();
        await app!.close();
        await fileIndex.close();
        await lock?.release();
        await catalog.close();
        log('protection server stopped');
      })();
      return closing;
    };
    const inject = async (r: InjectRequest) => {
      const res = await app!.inject({ method: r.method, url: r.url, headers: r.headers, ...(r.body !== undefined ? { payload: r.body } : {}) });
      return { status: res.statusCode, text: res.body };
    };
    return { url, port, context: ctx, inject, close };
  } catch (err) {
    await app?.close().catch(() => undefined);
    await lock?.release().catch(() => undefined);
    await catalog.close().catch(() => undefined);
    if (err instanceof CustosError) throw err;
    throw err;
  }
}

/** The admin token a server wrote on first start (for the demo and tests). */
export async function readAdminToken(dataDir: string): Promise<string> {
  return (await readFile(serverFiles(resolve(dataDir)).adminToken, 'utf8')).trim();
}
