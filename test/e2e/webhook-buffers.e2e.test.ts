/**
 * Bounded webhook buffers, end to end with built gateway and worker processes on a real Redis:
 * gateways append only what some target accepts, the outbox stops at PUSH_WEBHOOK_OUTBOX_MAX
 * (drops counted in herald_webhook_events_dropped_total and logged), decided transitions wait in
 * their channel queue instead of being lost, and embedded mode caps batches in flight.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisKeys } from '@herald/broker';
import { signChannel } from '@herald/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  metric,
  type NodeHandle,
  randomTestApp,
  RawClient,
  redisAndNodes,
  startNode,
  startWebhookReceiver,
  type TestApp,
  uniquePrefix,
} from '@herald/test-support';

/** Webhook events a node dropped with these labels (0 before the first drop). */
const dropCount = async (node: NodeHandle, labels: Record<string, string>) => (await metric(node.apiUrl, 'herald_webhook_events_dropped_total', labels)) ?? 0;

type Hook = { url: string; events?: string[]; channel_prefix?: string };

const appsFile = (apps: (TestApp & { webhooks: Hook[] })[]) => {
  const file = join(mkdtempSync(join(tmpdir(), 'herald-buffers-')), 'apps.json');
  // Client events are rate-limited per connection (10/s by default): these tests send hundreds.
  writeFileSync(file, JSON.stringify(apps.map((a) => ({ ...a, maxClientEventsPerSecond: 100_000 }))));
  return file;
};

const names = (events: Record<string, unknown>[], channel: string) => events.filter((e) => e.channel === channel).map((e) => String(e.name));

describe('bounded webhook buffers', () => {
  const fx = redisAndNodes();
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(fx.redis.url);
  });
  afterAll(() => redis?.disconnect());

  const start = async (opts: { app: TestApp; file: string; prefix?: string; role?: 'gateway' | 'worker' | 'embedded'; env?: Record<string, string> }) => {
    const node = await startNode({
      app: opts.app,
      ...(opts.role === 'embedded' ? {} : { redisUrl: fx.redis.url, prefix: opts.prefix! }),
      role: opts.role ?? 'gateway',
      env: { PUSH_APPS_FILE: opts.file, PUSH_WEBHOOK_DELAY_MS: '1000', PUSH_MAX_QUEUED_FRAMES: '1000', ...opts.env },
    });
    fx.nodes.push(node);
    return node;
  };
  /** A raw client of `app` on `node`, subscribed to `channels` (private ones signed). */
  const client = async (node: NodeHandle, app: TestApp, channels: string[]) => {
    const r = await RawClient.established({ wsPort: node.wsPort, app });
    fx.raws.push(r);
    for (const channel of channels) {
      const auth = channel.startsWith('private-') ? { auth: signChannel(app.key, app.secret, r.socketId, channel) } : {};
      expect((await r.subscribe(channel, auth)).event).toBe('pusher_internal:subscription_succeeded');
    }
    return r;
  };
  /** Sends `count` client events in rounds, each round relayed to `to` before the next is sent. */
  const sendClientEvents = async (from: RawClient, to: RawClient, channel: string, count: number, event = 'client-n') => {
    const before = to.events(event).filter((f) => f.channel === channel).length;
    for (let sent = 0; sent < count;) {
      const round = Math.min(50, count - sent);
      for (let i = 0; i < round; i++) from.send({ event, channel, data: { n: sent + i } });
      sent += round;
      await expect.poll(() => to.events(event).filter((f) => f.channel === channel).length).toBe(before + sent);
    }
  };
  /**
   * Waits until the gateway handled everything `r` sent so far, Redis writes included: frames of a
   * socket are handled in order and a subscribe answers after its Redis write, which the gateway's
   * connection sends after every earlier outbox append.
   */
  const barrier = async (r: RawClient) => {
    expect((await r.subscribe(`barrier-${Math.random()}`)).event).toBe('pusher_internal:subscription_succeeded');
  };
  /** Lines of a node's output holding `text`; the output pipe trails the node's HTTP answers, so poll it. */
  const linesOf = (node: NodeHandle, text: string) =>
    node
      .output()
      .split('\n')
      .filter((l) => l.includes(text));
  const outbox = async (prefix: string) =>
    (await redis.xrange(new RedisKeys(prefix).webhookOutbox(), '-', '+')).map(([, f]) => {
      const get = (k: string) => f[f.indexOf(k) + 1]!;
      return { app: get('app'), event: JSON.parse(get('ev')) as Record<string, unknown> };
    });

  it('gateways append only events a target of the app accepts (event type and channel prefix); all are still relayed', async () => {
    const occupancyOnly = randomTestApp();
    const prefixed = randomTestApp();
    const file = appsFile([
      { ...occupancyOnly, webhooks: [{ url: 'http://127.0.0.1:9/hook', events: ['channel_occupied'] }] },
      { ...prefixed, webhooks: [{ url: 'http://127.0.0.1:9/hook', events: ['client_event'], channel_prefix: 'private-hooked-' }] },
    ]);
    const prefix = uniquePrefix();
    const g = await start({ app: occupancyOnly, file, prefix });

    const a1 = await client(g, occupancyOnly, ['private-chat']);
    const a2 = await client(g, occupancyOnly, ['private-chat']);
    await sendClientEvents(a1, a2, 'private-chat', 20);
    await barrier(a1);
    expect(await outbox(prefix)).toEqual([]);

    const b1 = await client(g, prefixed, ['private-plain', 'private-hooked-1']);
    const b2 = await client(g, prefixed, ['private-plain', 'private-hooked-1']);
    await sendClientEvents(b1, b2, 'private-plain', 10);
    await sendClientEvents(b1, b2, 'private-hooked-1', 5);
    await barrier(b1);
    const entries = await outbox(prefix);
    expect(entries.map((e) => [e.app, e.event.name, e.event.channel])).toEqual(
      Array.from({ length: 5 }, () => [prefixed.id, 'client_event', 'private-hooked-1']),
    );
  });

  it(
    'a full outbox refuses appends: counted by event and reason, logged with the app and event, delivered up to the cap once a worker runs',
    { timeout: 60_000 },
    async () => {
      const app = randomTestApp();
      const rx = await startWebhookReceiver(app);
      try {
        const file = appsFile([{ ...app, webhooks: [{ url: rx.url, events: ['client_event'] }] }]);
        const prefix = uniquePrefix();
        const env = { PUSH_WEBHOOK_OUTBOX_MAX: '100' };
        const g = await start({ app, file, prefix, env });
        const sender = await client(g, app, ['private-chat']);
        const receiver = await client(g, app, ['private-chat']);
        const sendingFrom = Date.now();
        await sendClientEvents(sender, receiver, 'private-chat', 300);
        await barrier(sender);
        const xlen = await redis.xlen(new RedisKeys(prefix).webhookOutbox());
        expect(xlen).toBe(100);
        // Refusals are counted once their Redis reply is in, just after the barrier's.
        const dropped = { event: 'client_event', reason: 'outbox_full' };
        await expect.poll(() => dropCount(g, dropped)).toBe(300 - xlen);
        // Every drop happened in this window: a line a second at most, not one per refused event (200).
        const droppingSeconds = (Date.now() - sendingFrom) / 1000;
        await expect.poll(() => linesOf(g, 'webhook outbox full: event dropped').length).toBeGreaterThanOrEqual(1);
        const warns = linesOf(g, 'webhook outbox full: event dropped');
        expect(warns.length).toBeLessThanOrEqual(Math.floor(droppingSeconds) + 1);
        expect(warns[0]).toContain(`"appId":"${app.id}"`);
        expect(warns[0]).toContain('"event":"client_event"');
        expect(warns[0]).toMatch(/"level":40/);

        // The cap kept the oldest 100; a worker delivers them and the backlog empties.
        await start({ app, file, prefix, env, role: 'worker' });
        await expect.poll(() => rx.unique().filter((e) => e.name === 'client_event').length, { timeout: 30_000 }).toBe(100);
        expect(rx.unique().map((e) => (JSON.parse(String(e.data)) as { n: number }).n)).toEqual(Array.from({ length: 100 }, (_, i) => i));
        await expect.poll(() => redis.xlen(new RedisKeys(prefix).webhookOutbox())).toBe(0);
      } finally {
        await rx.close();
      }
    },
  );

  it('decided occupancy transitions wait in their channel queue while the outbox is full, and all arrive once it drains', { timeout: 60_000 }, async () => {
    const app = randomTestApp();
    const rx = await startWebhookReceiver(app);
    try {
      // The receiver holds its first answer: the worker has one batch in flight and the outbox fills.
      rx.hold();
      const file = appsFile([{ ...app, webhooks: [{ url: rx.url }] }]);
      const prefix = uniquePrefix();
      const keys = new RedisKeys(prefix);
      const env = { PUSH_WEBHOOK_OUTBOX_MAX: '100', PUSH_WEBHOOK_TIMEOUT_MS: '60000' };
      const g = await start({ app, file, prefix, env });
      const w = await start({ app, file, prefix, env, role: 'worker' });
      const sender = await client(g, app, ['private-chat']);
      const receiver = await client(g, app, ['private-chat']);
      await sendClientEvents(sender, receiver, 'private-chat', 150);
      await expect.poll(() => redis.xlen(keys.webhookOutbox())).toBe(100);

      const occupant = await client(g, app, ['occ-a', 'occ-b', 'occ-c']);
      await expect.poll(() => metric(w.apiUrl, 'herald_webhook_outbox_full_total').then((n) => n ?? 0)).toBeGreaterThan(0);
      await expect.poll(() => redis.llen(keys.webhookQueue(app.id, 'occ-a'))).toBe(1);
      occupant.send({ event: 'pusher:unsubscribe', data: { channel: 'occ-a' } });
      await expect.poll(() => redis.llen(keys.webhookQueue(app.id, 'occ-a'))).toBe(2);
      await expect.poll(() => linesOf(w, 'webhook outbox full: transitions wait in their channel queue').length).toBeGreaterThanOrEqual(1);

      rx.release();
      await expect.poll(() => names(rx.unique(), 'occ-a'), { timeout: 30_000 }).toEqual(['channel_occupied', 'channel_vacated']);
      await expect.poll(() => names(rx.unique(), 'occ-b')).toEqual(['channel_occupied']);
      await expect.poll(() => names(rx.unique(), 'occ-c')).toEqual(['channel_occupied']);
      // The queue is trimmed just after its events went into the outbox (and may already be delivered).
      for (const ch of ['occ-a', 'occ-b', 'occ-c']) await expect.poll(() => redis.llen(keys.webhookQueue(app.id, ch))).toBe(0);
    } finally {
      rx.release();
      await rx.close();
    }
  });

  it('embedded: a batch beyond PUSH_WEBHOOK_MAX_IN_FLIGHT is dropped, counted and logged while the receiver hangs', async () => {
    const app = randomTestApp();
    const rx = await startWebhookReceiver(undefined, () => 'hang');
    try {
      const file = appsFile([{ ...app, webhooks: [{ url: rx.url, events: ['client_event'] }] }]);
      const node = await start({ app, file, role: 'embedded', env: { PUSH_WEBHOOK_MAX_IN_FLIGHT: '2', PUSH_WEBHOOK_TIMEOUT_MS: '60000' } });
      const sender = await client(node, app, ['private-chat']);
      const receiver = await client(node, app, ['private-chat']);
      for (let n = 1; n <= 2; n++) {
        await sendClientEvents(sender, receiver, 'private-chat', 1);
        await expect.poll(() => rx.requests.length).toBe(n);
      }
      await sendClientEvents(sender, receiver, 'private-chat', 1);
      const dropped = { event: 'client_event', reason: 'in_flight_full' };
      await expect.poll(() => dropCount(node, dropped)).toBe(1);
      expect(rx.requests).toHaveLength(2);
      // logged in the same call that counted it, but the output pipe may trail the /metrics answer
      await expect.poll(() => linesOf(node, 'webhook batch dropped').length).toBe(1);
      const warn = linesOf(node, 'webhook batch dropped')[0];
      expect(warn).toContain(`"appId":"${app.id}"`);
      expect(warn).toContain('"events":["client_event"]');
    } finally {
      await rx.close();
    }
  });
});
