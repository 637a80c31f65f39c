import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from 'pino';
import type { RedisWebhookWorker } from './redis-worker.js';

/**
 * The worker's HTTP port (internal, like the API port): /ready, /health, /metrics, and the
 * dead-letter list: GET /dead-letters, POST /dead-letters/replay (`{"ids":[...]}` or all),
 * DELETE /dead-letters (`?id=...` repeated, or all).
 */
export function createWorkerHttp(worker: RedisWebhookWorker, opts: { nodeId: string; log: Logger }): FastifyInstance {
  const f = Fastify({ loggerInstance: opts.log as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) });
  const registry = new Registry();
  registry.setDefaultLabels({ node: opts.nodeId });
  collectDefaultMetrics({ register: registry, prefix: 'herald_worker_process_' });
  const gauge = (name: string, help: string, pick: () => number | Promise<number>) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        this.set(await pick());
      },
    });
  gauge('herald_webhook_pending_transitions', 'Channels waiting for their quiet period before a check', () => worker.stats().pendingChecks);
  gauge('herald_webhook_in_flight', 'Outbox entries being delivered by this worker', () => worker.stats().inFlightEntries);
  gauge('herald_webhook_sent', 'Webhook batches answered with a 2xx', () => worker.stats().sent);
  gauge('herald_webhook_retried', 'Webhook attempts that failed and were retried or given up', () => worker.stats().failedAttempts);
  gauge('herald_webhook_dead_lettered', 'Webhook batches that never got a 2xx', () => worker.stats().deadLettered);
  gauge('herald_webhook_transitions', 'Occupancy and presence transitions decided by this worker', () => worker.stats().transitions);
  gauge('herald_webhook_reconciliations', 'Reconciliation runs (start and reconnects)', () => worker.stats().reconciliations);
  gauge('herald_webhook_delivery_latency_ms_avg', 'Average ms from an event to its 2xx', () => {
    const s = worker.stats();
    return s.latencyCount === 0 ? 0 : s.latencyMsSum / s.latencyCount;
  });
  gauge('herald_webhook_outbox_backlog', 'Outbox entries not yet acknowledged (all workers)', () => worker.webhooks.backlog().catch(() => -1));

  f.get('/ready', async (_req, reply) => reply.code(worker.ready ? 200 : 503).send({ ready: worker.ready }));
  f.get('/health', async () => ({ ok: true }));
  f.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  f.get('/dead-letters', async (req) => {
    const count = Number((req.query as { count?: string }).count ?? 100);
    return { dead_letters: await worker.webhooks.deadLetters(Number.isFinite(count) && count > 0 ? count : 100) };
  });
  f.post('/dead-letters/replay', async (req) => {
    const ids = (req.body as { ids?: unknown } | undefined)?.ids;
    const list = Array.isArray(ids) ? ids.filter((x): x is string => typeof x === 'string') : undefined;
    return { replayed: await worker.webhooks.replay(list) };
  });
  f.delete('/dead-letters', async (req) => {
    const q = (req.query as { id?: string | string[] }).id;
    const ids = q === undefined ? undefined : Array.isArray(q) ? q : [q];
    return { deleted: await worker.webhooks.dropDeadLetters(ids) };
  });
  return f;
}
