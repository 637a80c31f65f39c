import type { FastifyPluginAsync } from 'fastify';
import type { ApiContext } from './context.js';

/** /ready (200 only when serving), /health (process alive), /metrics (Prometheus text). */
export const healthRoutes: FastifyPluginAsync<ApiContext> = async (f, ctx) => {
  f.get('/ready', async (_req, reply) => {
    const ok = ctx.ready();
    return reply.code(ok ? 200 : 503).send({ ready: ok });
  });
  f.get('/health', async () => ({ ok: true }));
  f.get('/metrics', async (_req, reply) => {
    const text = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(text);
  });
};
