import { STATUS_CODES } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { channelsRoutes } from './channels.js';
import { clientBundleRoutes } from './client-bundle.js';
import type { ApiContext } from './context.js';
import { ApiError, ApiErrorCode } from './errors.js';
import { eventsRoutes } from './events.js';
import { healthRoutes } from './health.js';
import { usersRoutes } from './users.js';
import { countLimit } from '../metrics.js';

/** Largest request body accepted: 10 batch items of 10 KB plus the envelope fit. */
const BODY_LIMIT = 256 * 1024;

/**
 * The Pusher REST API. Bodies are kept raw (Buffer) so that body_md5 is checked over the exact
 * bytes received; every success is 200 with a JSON object, every error `{"error", "code"}`.
 */
export function createApiServer(ctx: ApiContext, log: Logger): FastifyInstance {
  const f = Fastify({
    loggerInstance: log as FastifyBaseLogger,
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
  f.addHook('onSend', async (_req, reply, payload) => {
    reply.header('Access-Control-Allow-Origin', '*');
    return payload;
  });
  f.setErrorHandler((err, req, reply) => {
    if (err instanceof ApiError) {
      if (err.statusCode === 413) countLimit(ctx.metrics, 'event_payload');
      else if (err.statusCode === 429) countLimit(ctx.metrics, 'api_rate');
      req.log.debug({ status: err.statusCode, code: err.code, msg: err.message }, 'api request refused');
      return reply.code(err.statusCode).send({ error: err.message, code: err.statusCode });
    }
    const fe = err as { statusCode?: number; code?: string; message: string };
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') countLimit(ctx.metrics, 'request_body');
      const message = fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? `Request body too large (max ${BODY_LIMIT} bytes)` : fe.message;
      return reply.code(fe.statusCode).send({ error: message, code: fe.statusCode });
    }
    req.log.error({ err }, 'api request failed');
    return reply.code(500).send({ error: 'Internal server error', code: 500, type: ApiErrorCode.Internal });
  });
  f.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: 'Not found', code: 404 }));
  void f.register(healthRoutes, ctx);
  void f.register(eventsRoutes, ctx);
  void f.register(channelsRoutes, ctx);
  void f.register(usersRoutes, ctx);
  void f.register(clientBundleRoutes, ctx);
  return f;
}
