import { STATUS_CODES, createServer, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { PublishUnavailableError, StateUnavailableError } from '@herald/broker';
import type { Logger } from 'pino';
import { channelsRoutes } from './channels.js';
import { historyRoutes } from './history.js';
import { clientBundleRoutes } from './client-bundle.js';
import type { ApiContext } from './context.js';
import { ApiError, apiError, apiErrorBody } from './errors.js';
import { eventsRoutes } from './events.js';
import { healthRoutes } from './health.js';
import { createTriggerFastPath } from './trigger-fast-path.js';
import { usersRoutes } from './users.js';
import { adminRoutes } from './admin.js';
import { dashboardRoutes } from './dashboard/routes.js';
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

const DEFAULT_API_LIMITS: ApiListenerLimits = { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, maxConnections: 1000 };

/**
 * The Pusher REST API. Bodies are kept raw (Buffer) so that body_md5 is checked over the exact
 * bytes received; every success is 200 with a JSON object, every error an `ApiErrorBody`
 * (`{"error", "code", "error_code"}`) made from the one registry in errors.ts, whoever answers:
 * a route, the trigger fast path, fastify before routing, or Node's parser.
 */
export function createApiServer(ctx: ApiContext, log: Logger, limits: ApiListenerLimits = DEFAULT_API_LIMITS): FastifyInstance {
  let closing = false;
  // Connections that never sent a byte: Node's close waits for them (they are not "idle" to it, and
  // its header timeout does not apply before a first byte), so a stop would wait on any client
  // that opened a connection ahead of need (HTTP clients pre-connect) for as long as it keeps it.
  const sockets = new Set<Socket>();
  const fastPath = createTriggerFastPath(ctx, { bodyLimit: BODY_LIMIT, closing: () => closing, answerError: (err) => answerError(err, ctx, log) });
  const f = Fastify({
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- tsc -b needs it (without it the instance is typed by pino's Logger and no longer matches the FastifyInstance returned); lint's one-program view resolves the logger type to fastify's already
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
          // A request that arrives while the server drains (on a kept-alive connection) is refused
          // here rather than by fastify's return503OnClosing, whose body has no string code.
          if (closing) answerDirect(res, apiError('ShuttingDown'), ctx);
          else if (!fastPath(req, res)) handler(req, res);
        },
      );
      server.keepAliveTimeout = opts.keepAliveTimeout ?? 72_000;
      server.on('connection', (socket: Socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      });
      server.maxConnections = limits.maxConnections;
      server.on('drop', () => countLimit(ctx.metrics, 'api_connections'));
      // Node answers an `Expect` other than 100-continue with a bare 417 unless this is handled.
      server.on('checkExpectation', (_req, res) => answerDirect(res, apiError('ExpectationFailed'), ctx));
      return server;
    },
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    return503OnClosing: false,
    // Errors fastify raises before routing (a path with a broken % escape, an over-long parameter)
    // get the same body as every other refusal.
    frameworkErrors: (err, _req, res) => {
      const reply = res as unknown as FastifyReply;
      const e =
        err.code === 'FST_ERR_BAD_URL'
          ? apiError('InvalidUrl')
          : err.code === 'FST_ERR_MAX_PARAM_LENGTH'
            ? apiError('PathParameterTooLong', err.message)
            : apiError('MalformedRequest', err.message);
      void reply.code(e.statusCode).send(apiErrorBody(e));
    },
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const e =
        err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? apiError('RequestTimeout')
          : err.code === 'HPE_HEADER_OVERFLOW'
            ? apiError('HeadersTooLarge')
            : apiError('MalformedRequest');
      if (e.statusCode === 408) countLimit(ctx.metrics, 'api_request_timeout');
      const body = JSON.stringify(apiErrorBody(e));
      if (socket.writable) {
        socket.write(
          `HTTP/1.1 ${e.statusCode} ${STATUS_CODES[e.statusCode]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
        );
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
    for (const socket of sockets) if (socket.bytesRead === 0) socket.destroy();
    done();
  });
  f.setErrorHandler((err, req, reply) => {
    const { status, body } = answerError(err, ctx, req.log);
    return reply.code(status).send(body);
  });
  f.setNotFoundHandler((_req, reply) => {
    const err = apiError('NotFound');
    return reply.code(err.statusCode).send(apiErrorBody(err));
  });
  void f.register(healthRoutes, ctx);
  void f.register(eventsRoutes, ctx);
  void f.register(channelsRoutes, ctx);
  void f.register(historyRoutes, ctx);
  void f.register(usersRoutes, ctx);
  void f.register(clientBundleRoutes, ctx);
  void f.register(adminRoutes, ctx);
  void f.register(dashboardRoutes, ctx);
  return f;
}

/** Writes an error answer straight to Node's response, closing the connection after it. */
function answerDirect(res: ServerResponse, err: ApiError, ctx: ApiContext): void {
  const text = JSON.stringify(apiErrorBody(err));
  res.writeHead(err.statusCode, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), connection: 'close' });
  res.end(text);
  ctx.metrics.apiRequests.inc({ status: String(err.statusCode) });
}

/** The registry error a thrown value is answered with; undefined for a bug (answered 500). */
function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof PublishUnavailableError) return apiError('PublishUnavailable');
  // Counts and member lists of a cluster whose state is unreachable would be made up: 503, retry.
  if (err instanceof StateUnavailableError) return apiError('StateUnavailable');
  // fastify's own refusals: a body over the limit, or a malformed one (a Content-Length that lies).
  const fe = err as { statusCode?: number; code?: string; message: string };
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? apiError('BodyTooLarge', BODY_LIMIT) : apiError('MalformedRequest', fe.message);
  }
  return undefined;
}

/** The status and body of a refused or failed request (counted and logged here). */
function answerError(err: unknown, ctx: ApiContext, log: Pick<Logger, 'debug' | 'error'>): { status: number; body: object } {
  const e = toApiError(err);
  if (e === undefined) {
    log.error({ err }, 'api request failed');
    const internal = apiError('Internal');
    // `type` repeats the string code: the first bodies to carry it named it so.
    return { status: internal.statusCode, body: { ...apiErrorBody(internal), type: internal.code } };
  }
  if (e.code === 'PUSH_ERR_PAYLOAD_TOO_LARGE') countLimit(ctx.metrics, 'event_payload');
  else if (e.code === 'PUSH_ERR_BODY_TOO_LARGE') countLimit(ctx.metrics, 'request_body');
  else if (e.code === 'PUSH_ERR_RATE_LIMITED') countLimit(ctx.metrics, 'api_rate');
  // A signature refusal's message holds the string that was signed (the client needs it to debug
  // its signing); logs never get it, at any level.
  const msg = e.code === 'PUSH_ERR_INVALID_SIGNATURE' ? undefined : e.message;
  log.debug({ status: e.statusCode, code: e.code, ...(msg !== undefined ? { msg } : {}) }, 'api request refused');
  return { status: e.statusCode, body: apiErrorBody(e) };
}
