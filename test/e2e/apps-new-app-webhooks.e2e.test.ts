/**
 * An app created a moment ago is used at once: a client of the gateway that created it occupies a
 * channel before the webhook worker has heard of the app (here the store is MariaDB, polled every
 * 900 ms, so the worker learns of it up to 0.9 s later). Its channel_occupied must still go out:
 * the worker looks the app up again when the channel's quiet period (1 s) ends.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createMysqlDatabase,
  type NodeHandle,
  RawClient,
  type RedisHandle,
  startNode,
  startRedis,
  startWebhookReceiver,
  type TestDatabase,
  uniquePrefix,
  type WebhookReceiver,
} from '@herald/test-support';

const TOKEN = randomBytes(16).toString('hex');
let redis: RedisHandle;
let db: TestDatabase;
let rx: WebhookReceiver;
let nodes: NodeHandle[] = [];

beforeAll(async () => {
  redis = await startRedis();
  db = await createMysqlDatabase();
  rx = await startWebhookReceiver();
  const env = {
    PUSH_REDIS_PREFIX: uniquePrefix(),
    PUSH_ADMIN_TOKEN: TOKEN,
    PUSH_APPS_STORE: db.url,
    PUSH_APPS_STORE_POLL_MS: '900',
    PUSH_WEBHOOK_DELAY_MS: '1000',
  };
  nodes = [await startNode({ app: null, redisUrl: redis.url, role: 'gateway', env }), await startNode({ app: null, redisUrl: redis.url, role: 'worker', env })];
}, 60_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.kill()));
  await rx?.close();
  await db?.drop();
  await redis?.stop();
});

it('reports the first channel of an app the worker has not heard of yet', async () => {
  const [gateway] = nodes as [NodeHandle];
  for (let i = 0; i < 3; i++) {
    const r = await fetch(`${gateway.apiUrl}/admin/v1/apps`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ webhooks: [{ url: rx.url }] }),
    });
    expect(r.status).toBe(201);
    const app = (await r.json()) as { id: string; key: string };
    // The gateway that made the change applies it before answering: a socket opens at once.
    const c = await RawClient.established({ wsPort: gateway.wsPort, app });
    await c.subscribe(`first-${i}`);
    await expect
      .poll(
        () =>
          rx
            .unique()
            .filter((e) => e.channel === `first-${i}`)
            .map((e) => e.name),
        { timeout: 20_000 },
      )
      .toEqual(['channel_occupied']);
    c.close();
  }
});
