import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { channelsRoutes } from './channels.js';
import { clientBundleRoutes } from './client-bundle.js';
import type { ApiContext } from './context.js';
import { ApiError, ApiErrorCode } from './errors.js';
import { eventsRoutes } from './events.js';
import { healthRoutes } from './health.js';
import { usersRoutes } from './users.js';

/** Largest request body accepted: 10 batch items of 10 KB plus the envelope fit. */
const BODY_LIMIT = 256 * 1024;

/**
 * The Pusher REST API. Bodies are kept raw (Buffer) so that body_md5 is checked over the exact
 * bytes received; every success is 200 with a JSON object, every error `{"error", "code"}`.
 */
export function createApiServer(ctx: ApiContext, log: Logger): FastifyInstance {
  const f = Fastify({ loggerInstance: log as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }), bodyLimit: BODY_LIMIT, return503OnClosing: true });
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
      req.log.debug({ status: err.statusCode, code: err.code, msg: err.message }, 'api request refused');
      return reply.code(err.statusCode).send({ error: err.message, code: err.statusCode });
    }
    const fe = err as { statusCode?: number; code?: string; message: string };
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
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
