import type { RedisWebhooks } from '@herald/broker';
import type { FastifyInstance } from 'fastify';
import { createAdminAuth } from '@herald/config';
import { parseCount, parseDeleteQuery, parseReplayBody } from './dead-letter-requests.js';
import { LogThrottle, type WebhookLogger } from '@herald/webhooks';
import { workerErrorBody, workerHttpError } from './worker-http-error.js';

/** Largest body the dead-letter routes read: 10 000 ids with their JSON fit. */
export const DEAD_LETTER_BODY_LIMIT = 1024 * 1024;

export interface DeadLetterRoutesOptions {
  webhooks: RedisWebhooks;
  /** PUSH_ADMIN_TOKEN; without one these routes are not registered at all. */
  adminToken: string;
  log: WebhookLogger;
}

/**
 * The dead-letter routes, each behind `Authorization: Bearer <PUSH_ADMIN_TOKEN>` (401 otherwise,
 * checked before the body is read). Dead letters hold private client-event data; their target URLs
 * are stored without credentials.
 *
 * - `GET /dead-letters?count=100`: the oldest first.
 * - `POST /dead-letters/replay` with Content-Type application/json and exactly `{"ids": [...]}` or
 *   `{"all": true}`; any other body is a 400 and replays nothing. Each goes back to the outbox for
 *   its original target only, whole; one that does not fit in the outbox (PUSH_WEBHOOK_OUTBOX_MAX)
 *   stays a dead letter, with it the rest, and the answer is a 503 saying how many were replayed.
 * - `DELETE /dead-letters?id=<id>` (repeatable), or `?all=true` for every one. Deleting all is an
 *   explicit `?all=true`, like replaying all, so a stray bare DELETE (a mistyped script, a
 *   link-following tool) is a 400 and deletes nothing.
 */
export async function deadLetterRoutes(f: FastifyInstance, o: DeadLetterRoutesOptions): Promise<void> {
  const auth = createAdminAuth(o.adminToken);
  const refusedLog = new LogThrottle();
  f.addHook('onRequest', async (req, reply) => {
    const result = auth(req.headers.authorization);
    if (result === 'ok') return;
    // Neither the header nor the token is logged: only that, and how, a request was refused.
    const held = refusedLog.take(result);
    if (held !== undefined) o.log.warn({ reason: result, route: req.routeOptions.url, ip: req.ip, heldBackLines: held }, 'admin request refused');
    const err = workerHttpError('AdminUnauthorized', result);
    return reply.code(err.statusCode).header('WWW-Authenticate', 'Bearer').send(workerErrorBody(err));
  });
  // Bodies reach parseReplayBody as text whatever their type, so every bad one is our 400 (not fastify's 415).
  f.removeAllContentTypeParsers();
  f.addContentTypeParser('*', { parseAs: 'string', bodyLimit: DEAD_LETTER_BODY_LIMIT }, (_req, body, done) => done(null, body));

  f.get('/dead-letters', async (req) => ({ dead_letters: await o.webhooks.deadLetters(parseCount((req.query as Record<string, unknown>).count)) }));

  f.post('/dead-letters/replay', async (req, reply) => {
    const { ids } = parseReplayBody(req.headers['content-type'], req.body);
    const { replayed, refused } = await o.webhooks.replay(ids);
    if (refused === 0) return { replayed };
    const err = workerHttpError('OutboxFull', o.webhooks.outboxMax, refused);
    o.log.warn({ code: err.code, replayed, refused }, 'dead-letter replay refused: outbox full');
    return reply
      .code(err.statusCode)
      .header('Retry-After', '10')
      .send({ ...workerErrorBody(err), replayed });
  });

  f.delete('/dead-letters', async (req) => {
    const { ids } = parseDeleteQuery(req.query as Record<string, unknown>);
    return { deleted: await o.webhooks.dropDeadLetters(ids) };
  });
}
