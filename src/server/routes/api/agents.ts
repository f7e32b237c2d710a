/** /api/agents and /api/agent/* (enrollment). */
import { hostname as osHostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { CustosError, parseDuration } from '../../../base/index.js';
import {
  cursorName,
  livePathProblem,
  certificateFingerprint,
  certificateSerial,
  encodeEnrollmentToken,
  hashEnrollmentSecret,
  newEnrollmentSecret,
  signClientCertificate,
} from '../../../protocol/index.js';
import { api } from '../../../protocol/rest/index.js';
import type { ServerContext } from '../../context.js';
import { agentView } from '../../views.js';
import { badRequest, conflict, notFound } from '../../http-errors.js';
import { serve } from '../serve.js';
import { recordIssued, recordRevoked } from '../../issued-certificates.js';

const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const MAX_TOKEN_LIFETIME_MS = 7 * 86_400_000;
/** How long a browse waits for the agent's answer (an agent that predates questions never answers). */
export const BROWSE_TIMEOUT_MS = 10_000;
/** Discovery sums the size of each data directory: give it longer. */
export const DISCOVER_TIMEOUT_MS = 60_000;
/** `--to server:/path` and `--to download:FILE` are recovery targets, so no agent may be called that. */
const RESERVED_AGENT_NAMES = ['server', 'download'];

export function registerAgentRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const c = ctx.catalog;

  serve(app, api.createEnrollmentToken, async ({ body, audit }) => {
    const ms = body.expires === undefined ? 3_600_000 : parseDuration(body.expires);
    audit(null, { expires: body.expires ?? '1h' });
    if (ms === undefined || ms <= 0 || ms > MAX_TOKEN_LIFETIME_MS) throw badRequest(`expires must be a duration like 30m, 1h or 2d, at most 7d; got ${JSON.stringify(body.expires)}`);
    const secret = newEnrollmentSecret();
    const now = ctx.clock.now();
    const expiresAt = new Date(now.getTime() + ms).toISOString();
    await c.addEnrollmentToken({ secretHash: hashEnrollmentSecret(secret), now: now.toISOString(), expiresAt });
    return { token: encodeEnrollmentToken({ secret, caFingerprint: certificateFingerprint(ctx.ca.certPem) }), expiresAt };
  });

  serve(app, api.listAgents, async () => {
    const sources = await c.listSources();
    const connected = ctx.hub.connected();
    return (await c.listAgents()).map((a) => agentView(a, connected.has(a.name), sources.filter((s) => s.agent === a.name).map((s) => s.id)));
  });

  serve(app, api.removeAgent, async ({ params, audit }) => {
    const { name } = params;
    audit(name);
    const a = await c.agent(name);
    if (!a || a.revoked_at) throw notFound(`agent ${name}`);
    const grouped = (await c.listSources({ agent: name })).filter((s) => s.group_name);
    if (grouped.length > 0) throw conflict(`agent ${name} has data sources in protection groups (${grouped.map((s) => `${s.id} in ${s.group_name}`).join(', ')}); remove them from their groups first`);
    const revokedAt = ctx.clock.now().toISOString();
    // The issuance record first: a crash between the two leaves the certificate revoked there, so
    // a catalog restored later cannot bring it back (custos server resync).
    await recordRevoked(ctx.files.dir, { time: revokedAt, name, serial: a.cert_serial });
    await c.updateAgent(name, { revoked_at: revokedAt });
    ctx.hub.disconnect(name, 'certificate revoked');
    ctx.log(`agent ${name} removed; its certificate is revoked`);
    return { removed: name };
  });

  // Admins only ('configure'): it shows any directory name on the computer, which no data source may cover.
  serve(app, api.browseAgent, async ({ params, query, audit }) => {
    const { name } = params;
    const path = query.path ?? '/';
    audit(name, { path });
    const problem = livePathProblem(path);
    if (problem !== null) throw badRequest(problem);
    if (query.after !== undefined && cursorName(query.after) === null) throw badRequest('after must be the `next` of the previous page');
    const a = await c.agent(name);
    if (!a || a.revoked_at) throw notFound(`agent ${name}`);
    const r = await ctx.hub.ask(name, { kind: 'list-dir', path, limit: query.limit ?? 1000, ...(query.after !== undefined ? { after: query.after } : {}) }, BROWSE_TIMEOUT_MS);
    return { agent: name, path: r.path, entries: [...r.entries], next: r.next };
  });

  // Admins only ('configure'), as browsing: it shows what runs on the computer and where its data lives.
  serve(app, api.discoverAgent, async ({ params, audit }) => {
    const { name } = params;
    audit(name);
    const a = await c.agent(name);
    if (!a || a.revoked_at) throw notFound(`agent ${name}`);
    const r = await ctx.hub.ask(name, { kind: 'discover' }, DISCOVER_TIMEOUT_MS);
    return {
      agent: name,
      fileSystems: [...r.fileSystems],
      instances: r.instances.map((i) => ({ id: `${name}:${i.kind}:${i.port}`, ...i })),
      problems: [...r.problems],
    };
  });

  // --- enrollment (no API token: the enrollment token is the credential) ---

  serve(app, api.agentCa, async () => ctx.ca.certPem);

  serve(app, api.enroll, async ({ body, audit }) => {
    audit(body.name, { hostname: body.hostname ?? null });
    if (!AGENT_NAME.test(body.name)) throw badRequest(`agent name ${JSON.stringify(body.name)} is not allowed: use letters, digits, '.', '_' and '-' (at most 63), starting with a letter or digit`);
    if (RESERVED_AGENT_NAMES.includes(body.name)) throw badRequest(`agent name ${body.name} is reserved (recover --to ${body.name}:… names a recovery target): attach with another --name`);
    const existing = await c.agent(body.name);
    if (existing && !existing.revoked_at) throw conflict(`an agent named ${body.name} is already attached; pick another --name or remove it first (custos agent remove ${body.name})`);
    const now = ctx.clock.now().toISOString();
    // Sign first (validates the request), then consume the token: a bad CSR does not burn it.
    const { certPem } = await signClientCertificate(ctx.ca, body.csr, { commonName: body.name });
    if (!(await c.consumeEnrollmentToken(hashEnrollmentSecret(body.secret), now, body.name))) {
      throw new CustosError('denied', 'the enrollment token is unknown, expired or already used: create a new one with custos agent token');
    }
    const row = {
      name: body.name,
      cert_serial: certificateSerial(certPem),
      cert_fingerprint: certificateFingerprint(certPem),
      hostname: body.hostname ?? body.name,
      attached_at: now,
      last_seen: null,
      version: null,
      revoked_at: null,
    };
    // Recorded outside the catalog before the certificate is handed out: every certificate that works
    // is in the issuance record, so a catalog restored from an older backup still accepts it.
    await recordIssued(ctx.files.dir, {
      time: now, name: row.name, serial: row.cert_serial, fingerprint: row.cert_fingerprint, hostname: row.hostname, enrollment: hashEnrollmentSecret(body.secret),
    });
    if (existing) await c.replaceAgent(row);
    else await c.insertAgent(row);
    ctx.log(`agent ${body.name} attached (host ${row.hostname})`);
    return { name: body.name, certificate: certPem, ca: ctx.ca.certPem, server: osHostname() };
  });
}
