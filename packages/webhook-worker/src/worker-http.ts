import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from 'pino';
import { DEAD_LETTER_BODY_LIMIT, deadLetterRoutes } from './dead-letter-routes.js';
import type { RedisWebhookWorker } from './redis-worker.js';
import { WorkerHttpError, workerErrorBody, workerHttpError } from './worker-http-error.js';

export interface WorkerHttpOptions {
  nodeId: string;
  log: Logger;
  /** PUSH_ADMIN_TOKEN: the bearer token of the dead-letter routes. Unset: they answer 404. */
  adminToken?: string | undefined;
  /** Problems besides the worker's own (the app catalog's age), listed by /ready. */
  moreProblems?: () => string[];
  /** More gauges read at each scrape (the app catalog's). */
  gauges?: { name: string; help: string; value: () => number }[];
}

/**
 * The worker's HTTP port (internal, like the API port). Every error answer is `workerErrorBody` of
 * an entry of the registry in worker-http-error.ts: `{"error", "code": <status>, "error_code"}`.
 *
 * Open to anyone who reaches the port, for probes and scrapers: GET /ready, /health, /metrics.
 *
 * Administrative: the dead letters (GET /dead-letters, POST /dead-letters/replay, DELETE
 * /dead-letters; dead-letter-routes.ts has the bodies). They need `Authorization: Bearer
 * <PUSH_ADMIN_TOKEN>`, compared in constant time (401 without it or with another token). With
 * PUSH_ADMIN_TOKEN unset they do not exist (404, like any unknown route) and the worker logs that
 * once, here, at start.
 */
export function createWorkerHttp(worker: RedisWebhookWorker, opts: WorkerHttpOptions): FastifyInstance {
  const send = (reply: FastifyReply, err: WorkerHttpError) => reply.code(err.statusCode).send(workerErrorBody(err));
  const f = Fastify({
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- tsc -b needs it (without it the instance is typed by pino's Logger and no longer matches the FastifyInstance returned); lint's one-program view resolves the logger type to fastify's already
    loggerInstance: opts.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // Errors fastify raises before routing (a path with a broken % escape) get the same body.
    frameworkErrors: (err, _req, res) => void send(res as unknown as FastifyReply, workerHttpError('MalformedRequest', err.message)),
  });
  f.server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    const err = workerHttpError('ExpectationFailed');
    res.writeHead(err.statusCode, { 'content-type': 'application/json; charset=utf-8', connection: 'close' }).end(JSON.stringify(workerErrorBody(err)));
  });
  f.setNotFoundHandler((_req, reply) => send(reply, workerHttpError('NotFound')));
  f.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    if (err instanceof WorkerHttpError) return send(reply, err);
    // fastify's own refusals: a body over the limit, or a malformed one.
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return send(reply, workerHttpError('BodyTooLarge', DEAD_LETTER_BODY_LIMIT));
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) return send(reply, workerHttpError('MalformedRequest', err.message));
    const internal = workerHttpError('Internal');
    req.log.error({ err, code: internal.code }, 'worker http request failed');
    return send(reply, internal);
  });
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
  for (const g of opts.gauges ?? []) gauge(g.name, g.help, g.value);
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
  gauge('herald_webhook_outbox_backlog', 'Outbox entries not yet acknowledged (all workers); -1 while the outbox cannot be read', () =>
    worker.webhooks.backlog().catch(() => -1),
  );
  gauge('herald_webhook_ready', "1 when the worker receives every primary's keyspace events and can read its outbox (GET /ready 200), else 0", () =>
    worker.ready ? 1 : 0,
  );
  gauge('herald_webhook_keyspace_primaries', 'Redis primaries whose keyspace events the worker needs', () => worker.stats().keyspacePrimaries);
  gauge(
    'herald_webhook_keyspace_primaries_ready',
    'Redis primaries whose keyspace events arrive (subscribed, connected, flags set)',
    () => worker.stats().keyspacePrimariesReady,
  );
  gauge('herald_webhook_outbox_readable', '1 when the last outbox read (or lead check) succeeded, else 0', () => worker.stats().outboxReadable);
  gauge(
    'herald_webhook_recoveries',
    'Recoveries after a reconnect, failover or lost keyspace events (state restored, every channel checked)',
    () => worker.stats().recoveries,
  );
  new Counter({
    name: 'herald_webhook_outbox_full_total',
    help: 'Times moving decided transitions found the outbox full (PUSH_WEBHOOK_OUTBOX_MAX): they waited in their channel queue',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(worker.stats().outboxFull);
    },
  });

  f.get('/ready', async (_req, reply) => {
    const problems = [...worker.problems(), ...(opts.moreProblems?.() ?? [])];
    return reply.code(problems.length === 0 ? 200 : 503).send(problems.length === 0 ? { ready: true } : { ready: false, problems });
  });
  f.get('/health', async () => ({ ok: true }));
  f.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  if (opts.adminToken === undefined) {
    opts.log.warn({}, 'dead-letter endpoints disabled (404): PUSH_ADMIN_TOKEN is unset');
  } else {
    void f.register(deadLetterRoutes, { webhooks: worker.webhooks, adminToken: opts.adminToken, log: opts.log });
  }
  return f;
}
