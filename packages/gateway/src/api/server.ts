import { STATUS_CODES, createServer } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { PublishUnavailableError, StateUnavailableError } from '@herald/broker';
import type { Logger } from 'pino';
import { channelsRoutes } from './channels.js';
import { clientBundleRoutes } from './client-bundle.js';
import type { ApiContext } from './context.js';
import { ApiError, ApiErrorCode } from './errors.js';
import { eventsRoutes } from './events.js';
import { healthRoutes } from './health.js';
import { createTriggerFastPath } from './trigger-fast-path.js';
import { usersRoutes } from './users.js';
import { countLimit } from '../metrics.js';

/** Largest request body accepted: 10 batch items of 10 KB plus the envelope fit. */
const BODY_LIMIT = 256 * 1024;

/**
 * What the API listener allows a client: the API port shares the process's file descriptors with
 * the WebSocket port, so a client that holds connections open (headers or a body trickled byte by
 * byte, or simply many sockets) must not be able to starve the WebSockets.
 */
export interface ApiListenerLimits {
  /** The request line and headers must arrive within this many ms. @default 10000 */
  headersTimeoutMs: number;
  /** The whole request, body included, must arrive within this many ms. @default 30000 */
  requestTimeoutMs: number;
  /** Open connections at most; one more is closed at once. @default 1000 */
  maxConnections: number;
}

export const DEFAULT_API_LIMITS: ApiListenerLimits = { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, maxConnections: 1000 };

/**
 * The Pusher REST API. Bodies are kept raw (Buffer) so that body_md5 is checked over the exact
 * bytes received; every success is 200 with a JSON object, every error `{"error", "code"}`.
 */
export function createApiServer(ctx: ApiContext, log: Logger, limits: ApiListenerLimits = DEFAULT_API_LIMITS): FastifyInstance {
  let closing = false;
  const fastPath = createTriggerFastPath(ctx, { bodyLimit: BODY_LIMIT, closing: () => closing, answerError: (err) => answerError(err, ctx, log) });
  const f = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // Node's server as fastify would make it, with the trigger fast path in front of fastify.
    serverFactory: (handler, options) => {
      const opts = options as { keepAliveTimeout?: number };
      const server = createServer(
        {
          // A request over either timeout is cut by Node, which reports it to clientErrorHandler
          // below (408). Node looks for expired requests every connectionsCheckingInterval.
          headersTimeout: limits.headersTimeoutMs,
          requestTimeout: Math.max(limits.requestTimeoutMs, limits.headersTimeoutMs),
          connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
        },
        (req, res) => {
          if (!fastPath(req, res)) handler(req, res);
        },
      );
      server.keepAliveTimeout = opts.keepAliveTimeout ?? 72_000;
      server.maxConnections = limits.maxConnections;
      server.on('drop', () => countLimit(ctx.metrics, 'api_connections'));
      return server;
    },
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    return503OnClosing: true,
    // Errors fastify raises before routing (a path with a broken % escape, an over-long parameter)
    // and HTTP parse errors get the same `{"error", "code"}` body as every other refusal.
    frameworkErrors: (err, _req, res) => {
      const reply = res as unknown as FastifyReply;
      const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
      void reply.code(status).send({ error: err.code === 'FST_ERR_BAD_URL' ? 'Invalid URL' : err.message, code: status });
    },
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      if (status === 408) countLimit(ctx.metrics, 'api_request_timeout');
      const message = status === 408 ? 'Request timeout' : status === 431 ? 'Request headers too large' : 'Malformed HTTP request';
      const body = JSON.stringify({ error: message, code: status });
      if (socket.writable) {
        socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${body.length}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
      }
      socket.destroy();
    },
  });
  f.removeAllContentTypeParsers();
  f.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  f.decorateRequest('heraldApp', null as never);
  f.decorateRequest('heraldParams', null as never);
  f.addHook('onResponse', async (_req, reply) => {
    ctx.metrics.apiRequests.inc({ status: String(reply.statusCode) });
  });
  f.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  f.setErrorHandler((err, req, reply) => {
    const { status, body } = answerError(err, ctx, req.log);
    return reply.code(status).send(body);
  });
  f.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: 'Not found', code: 404 }));
  void f.register(healthRoutes, ctx);
  void f.register(eventsRoutes, ctx);
  void f.register(channelsRoutes, ctx);
  void f.register(usersRoutes, ctx);
  void f.register(clientBundleRoutes, ctx);
  return f;
}

/** The status and `{"error", "code"}` body of a refused or failed request (counted and logged here). */
function answerError(err: unknown, ctx: ApiContext, log: Pick<Logger, 'debug' | 'error'>): { status: number; body: object } {
  if (err instanceof ApiError) {
    if (err.statusCode === 413) countLimit(ctx.metrics, 'event_payload');
    else if (err.statusCode === 429) countLimit(ctx.metrics, 'api_rate');
    // A signature refusal's message holds the string that was signed (the client needs it to debug
    // its signing); logs never get it, at any level.
    const msg = err.code === ApiErrorCode.InvalidSignature ? undefined : err.message;
    log.debug({ status: err.statusCode, code: err.code, ...(msg !== undefined ? { msg } : {}) }, 'api request refused');
    return { status: err.statusCode, body: { error: err.message, code: err.statusCode } };
  }
  if (err instanceof PublishUnavailableError) {
    log.debug({ status: 503, code: ApiErrorCode.PublishUnavailable }, 'api request refused');
    return {
      status: 503,
      body: { error: "Not published: the cluster (Redis) is unreachable; only this node's subscribers received it. Retry shortly (they get it again)", code: 503 },
    };
  }
  if (err instanceof StateUnavailableError) {
    // Counts and member lists of a cluster whose state is unreachable would be made up: 503, retry.
    log.debug({ status: 503, code: ApiErrorCode.StateUnavailable }, 'api request refused');
    return { status: 503, body: { error: 'Cluster state unreachable (Redis): retry shortly', code: 503 } };
  }
  const fe = err as { statusCode?: number; code?: string; message: string };
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') countLimit(ctx.metrics, 'request_body');
    const message = fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? `Request body too large (max ${BODY_LIMIT} bytes)` : fe.message;
    return { status: fe.statusCode, body: { error: message, code: fe.statusCode } };
  }
  log.error({ err }, 'api request failed');
  return { status: 500, body: { error: 'Internal server error', code: 500, type: ApiErrorCode.Internal } };
}
