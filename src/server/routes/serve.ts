/**
 * How the server serves the REST contract (src/protocol/rest): `serve()`
 * registers one call of the contract with its schemas, its declared access
 * (read by the auth hook on the matched route) and its audit name; the
 * handler gets typed parameters, query and body and must return the typed
 * answer. Bodies are validated strictly (no type coercion, unknown fields
 * refused); path parameters and queries, which arrive as text, are coerced
 * to the declared types.
 */
import { Ajv, type ErrorObject } from 'ajv';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SUMMARY_TRAILER, type BodyOf, type EventFeed, type ParamsOf, type QueryOf, type ReplyOf, type RouteSpec, type StreamReply } from '../../protocol/rest/index.js';
import type { AuditLog } from '../audit.js';
import { actorOf, type Principal, type RouteConfig } from '../auth.js';
import { badRequest } from '../http-errors.js';

export interface Call<R extends RouteSpec> {
  readonly params: ParamsOf<R>;
  readonly query: QueryOf<R>;
  readonly body: BodyOf<R>;
  /** The caller (null only on public calls). */
  readonly principal: Principal | null;
  readonly req: FastifyRequest;
  readonly reply: FastifyReply;
  /** What the audit entry of this call names and says (no secrets). */
  audit(target: string | null, detail?: Record<string, unknown>): void;
}

interface AuditNote {
  target: string | null;
  detail: Record<string, unknown>;
  error?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    auditNote?: AuditNote;
  }
}

/** Registers one call of the contract. */
export function serve<R extends RouteSpec>(app: FastifyInstance, spec: R, handler: (call: Call<R>) => Promise<ReplyOf<R>>): void {
  const status = spec.status ?? 200;
  const config: RouteConfig = { access: spec.access, ...(spec.audit ? { audit: spec.audit } : {}) };
  app.route({
    method: spec.method,
    url: spec.path,
    config,
    schema: {
      summary: spec.summary,
      ...(spec.hide ? { hide: true } : {}),
      ...(spec.access === 'public' ? { security: [] } : {}),
      ...(spec.params ? { params: spec.params } : {}),
      ...(spec.query ? { querystring: spec.query } : {}),
      ...(spec.body ? { body: spec.body } : {}),
      ...(spec.text ? {} : { response: { [status]: spec.stream ? streamSchema(spec.stream) : spec.events ? eventsSchema(spec.response) : spec.response } }),
    },
    handler: async (req, reply) => {
      if (!spec.body && !isEmptyBody(req.body)) throw badRequest(`${spec.method} ${spec.path} takes no body`);
      req.auditNote = { target: null, detail: {} };
      const call: Call<R> = {
        params: req.params as ParamsOf<R>,
        query: req.query as QueryOf<R>,
        body: req.body as BodyOf<R>,
        principal: req.principal ?? null,
        req,
        reply,
        audit: (target, detail) => {
          req.auditNote = { target, detail: detail ?? {} };
        },
      };
      const value = await handler(call);
      void reply.code(status);
      if (spec.text) void reply.type(spec.text);
      if (spec.stream) return sendStream(reply, value as StreamReply<unknown>);
      if (spec.events) return sendEvents(req, reply, value as EventFeed<unknown>);
      return value;
    },
  });
}

/** The OpenAPI description of a streamed answer: bytes of one of its media types. */
function streamSchema(types: readonly string[]) {
  return { description: `a byte stream; its summary follows in the ${SUMMARY_TRAILER} trailer`, content: Object.fromEntries(types.map((t) => [t, { schema: { type: 'string', format: 'binary' } }])) };
}

/**
 * Sends a stream (with backpressure: fastify pipes it) and, after its last
 * byte, its summary as a trailer, JSON with everything beyond ASCII escaped
 * (a header value must be).
 */
function sendStream(reply: FastifyReply, s: StreamReply<unknown>): FastifyReply {
  void reply.type(s.contentType);
  void reply.header('content-disposition', `attachment; filename="${s.fileName.replace(/[^A-Za-z0-9._-]/g, '_')}"`);
  void reply.trailer(SUMMARY_TRAILER, async () => JSON.stringify(s.summary()).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
  return reply.send(s.body);
}

/** The OpenAPI description of an event stream: each event's data is JSON of `schema`. */
function eventsSchema(schema: unknown) {
  return { description: 'server-sent events; the data of each is JSON of the schema', content: { 'text/event-stream': { schema } } };
}

/** How often a quiet event stream sends a comment, so proxies and the browser keep it open. */
export const EVENTS_KEEPALIVE_MS = 25_000;

/**
 * Sends server-sent events until the caller goes away. The reply is taken
 * over from fastify (its serialisation and hooks do not apply to an endless
 * answer); the security headers the onRequest hooks set are copied.
 */
function sendEvents(req: FastifyRequest, reply: FastifyReply, feed: EventFeed<unknown>): FastifyReply {
  const res = reply.raw;
  reply.hijack();
  res.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
  });
  if (req.method === 'HEAD') {
    res.end(); // the headers say what a GET would stream; a HEAD gets no body
    return reply;
  }
  res.write(': custos events\n\n');
  const stop = feed.follow((event) => res.write(`data: ${JSON.stringify(event)}\n\n`), () => res.end());
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), EVENTS_KEEPALIVE_MS);
  keepalive.unref();
  const end = () => {
    clearInterval(keepalive);
    stop();
  };
  req.raw.once('close', end);
  res.once('close', end);
  return reply;
}

function isEmptyBody(body: unknown): boolean {
  return body === undefined || body === null || body === '' || (typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0);
}

/**
 * Validators: bodies strictly as typed; path parameters and query strings
 * (always text on the wire) coerced to their declared scalar types.
 */
export function installValidators(app: FastifyInstance): void {
  const v = makeValidators();
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? v.bodies : v.parts).compile(schema));
  app.setSchemaErrorFormatter((errors, dataVar) => new Error(formatSchemaErrors(errors, dataVar)));
}

/** What the validator found wrong, as one line a person reads (a union's alternatives said once: "must be one of: a, b"). */
export function formatSchemaErrors(errors: readonly ErrorObject[], dataVar: string): string {
  const byPath = new Map<string, ErrorObject[]>();
  for (const e of errors) byPath.set(e.instancePath, [...(byPath.get(e.instancePath) ?? []), e]);
  const parts: string[] = [];
  for (const [path, list] of byPath) {
    const where = `${dataVar}${path}`;
    if (list.some((e) => e.keyword === 'anyOf')) {
      const consts = list.filter((e) => e.keyword === 'const').map((e) => JSON.stringify((e.params as { allowedValue: unknown }).allowedValue));
      const types = [...new Set(list.filter((e) => e.keyword === 'type').map((e) => String((e.params as { type: unknown }).type)))];
      if (consts.length > 0) parts.push(`${where} must be one of: ${[...new Set(consts)].join(', ')}`);
      else if (types.length > 0) parts.push(`${where} must be ${types.join(' or ')}`);
      else parts.push(`${where} must match one of its allowed forms`);
      continue;
    }
    const say = (e: ErrorObject) => {
      if (e.keyword === 'additionalProperties') return `${where} has an unknown field ${JSON.stringify((e.params as { additionalProperty: unknown }).additionalProperty)}`;
      // A regular expression says little to a person: the field's description says what it must be.
      if (e.keyword === 'pattern') {
        const description = (e.parentSchema as { description?: unknown } | undefined)?.description;
        return typeof description === 'string' ? `${where} must be ${description}` : `${where} is not in the form it must have`;
      }
      return `${where} ${e.message ?? 'is not valid'}`;
    };
    for (const m of new Set(list.map(say))) parts.push(m);
  }
  return parts.join(', ');
}

/** The two validators: strict for bodies, converting text for path parameters and queries. */
export function makeValidators(): { bodies: Ajv; parts: Ajv } {
  // verbose: an error carries its schema, whose description words a pattern's refusal.
  const common = { allErrors: false, useDefaults: false, removeAdditional: false, strict: false, verbose: true } as const;
  return { bodies: new Ajv({ ...common, coerceTypes: false }), parts: new Ajv({ ...common, coerceTypes: true }) };
}

/**
 * Writes the audit entry of every audited call and of every refused one,
 * before the answer leaves (onSend), so a caller who got an answer can rely
 * on the entry being there.
 */
export function installAudit(app: FastifyInstance, audit: AuditLog): void {
  app.addHook('onSend', async (req, reply, payload) => {
    const config = (req.is404 ? undefined : req.routeOptions.config) as RouteConfig | undefined;
    // 429: a sign-in while its user name is locked out, a refusal like the others (and limited like them).
    const denied = reply.statusCode === 401 || reply.statusCode === 403 || reply.statusCode === 429;
    if (!config?.audit && !denied) return payload;
    const note = req.auditNote;
    const p = req.principal;
    await audit.record({
      actor: p ? actorOf(p) : 'anonymous',
      role: p?.role ?? null,
      action: config?.audit ?? 'request',
      target: note?.target ?? null,
      outcome: denied ? 'denied' : reply.statusCode < 400 ? 'ok' : 'failed',
      detail: {
        ...(note?.detail ?? {}),
        call: `${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]}`,
        status: reply.statusCode,
        ...(reply.statusCode >= 400 ? { error: errorOf(payload) } : {}),
      },
      address: req.ip ?? null,
    });
    return payload;
  });
}

function errorOf(payload: unknown): string {
  if (typeof payload !== 'string') return '';
  try {
    const e = (JSON.parse(payload) as { error?: { message?: unknown } }).error;
    return typeof e?.message === 'string' ? e.message : '';
  } catch {
    return '';
  }
}
