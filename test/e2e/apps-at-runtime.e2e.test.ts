/**
 * Apps changed at run time through the admin API, on a real cluster: three gateways and a webhook
 * worker on one redis-server, the apps kept in that Redis (PUSH_APPS_STORE's clustered default),
 * in a PostgreSQL database (LISTEN/NOTIFY), and in a MariaDB one (a polled change counter).
 * Every change is made through one gateway and must show its effect on the other two within a
 * second (measured, printed), with no restart: a new app accepts sockets and signed triggers, a
 * disabled one is closed with 4003 and refused 403, a deleted one closed with 4001, a lowered
 * connection limit refuses new sockets only, changed webhooks go to the new URL, a rotated secret
 * keeps verifying until its grace ends. A notification that never came heals at the next resync.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import Pusher from 'pusher';
import { afterAll, beforeAll, describe, type ExpectStatic, it } from 'vitest';
import {
  connectPusherJs,
  createMysqlDatabase,
  createPostgresDatabase,
  type NodeHandle,
  RawClient,
  type RedisHandle,
  startNode,
  startRedis,
  startWebhookReceiver,
  subscribeAndWait,
  type TestDatabase,
  uniquePrefix,
  waitForState,
  type WebhookReceiver,
} from '@herald/test-support';

const TOKEN = randomBytes(16).toString('hex');
const RESYNC_MS = 2000;

interface AppView {
  id: string;
  key: string;
  secret: string;
  enabled: boolean;
  version: number;
  previousSecrets: { expiresAt: string }[];
  [field: string]: unknown;
}

/** Marks the app disabled in the store's data without announcing it, as a lost notification would leave it. */
async function disableUnannounced(kind: Store, appId: string, redisUrl: string, prefix: string, db: TestDatabase | undefined): Promise<void> {
  if (kind === 'postgres') {
    await db!.query(`UPDATE herald_apps SET doc = jsonb_set(doc, '{enabled}', 'false'), version = version + 1 WHERE id = $1`, [appId]);
  } else if (kind === 'mariadb') {
    // The change counter the nodes poll is left as it was.
    await db!.query(`UPDATE herald_apps SET doc = JSON_SET(doc, '$.enabled', false), version = version + 1 WHERE id = ?`, [appId]);
  } else {
    const direct = new Redis(redisUrl);
    try {
      const docs = `${prefix}:{apps}:docs`;
      const meta = `${prefix}:{apps}:meta`;
      const doc = JSON.parse((await direct.hget(docs, appId))!) as Record<string, unknown>;
      const [version, createdAt] = (await direct.hget(meta, appId))!.split('|');
      await direct.hset(docs, appId, JSON.stringify({ ...doc, enabled: false }));
      await direct.hset(meta, appId, `${Number(version) + 1}|${createdAt}|${new Date().toISOString()}`);
    } finally {
      direct.disconnect();
    }
  }
}

type Store = 'redis' | 'postgres' | 'mariadb';

// The three stores' clusters are independent (a redis-server, a database, nodes and a receiver
// each) and run side by side; inside one, the steps build on each other and run in order, each with
// its context's expect.
describe.each(['redis', 'postgres', 'mariadb'] as const)('apps at run time on a 3-gateway cluster, kept in %s', { concurrent: true }, (kind) => {
  let redis: RedisHandle;
  let prefix: string;
  let db: TestDatabase | undefined;
  let nodes: NodeHandle[];
  let gateways: NodeHandle[];
  let rx: WebhookReceiver;
  const clients: RawClient[] = [];
  /** Milliseconds from an admin answer to the change being seen on the slowest other gateway. */
  const propagation: Record<string, number> = {};

  const admin = async (g: NodeHandle, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const r = await fetch(`${g.apiUrl}/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>), etag: r.headers.get('etag') };
  };
  const sdk = (g: NodeHandle, app: { id: string; key: string; secret: string }) =>
    new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(g.apiPort), useTLS: false });
  const triggerStatus = (g: NodeHandle, app: { id: string; key: string; secret: string }) =>
    sdk(g, app)
      .trigger('probe', 'e', {})
      .then(
        (r) => r.status,
        (e: { status?: number }) => e.status ?? 0,
      );
  /** Opens a socket with the key and resolves with `established`, or the close code it was refused with. */
  async function attempt(g: NodeHandle, key: string): Promise<{ client: RawClient; code: 'established' | number }> {
    const c = await RawClient.connect(`ws://127.0.0.1:${g.wsPort}/app/${key}?protocol=7&client=js&version=8.6.0`);
    clients.push(c);
    const code = await Promise.race([c.waitFor((f) => f.event === 'pusher:connection_established').then(() => 'established' as const), c.closed]);
    return { client: c, code };
  }
  /** Polls `check` on the two gateways the change was not made on; records the time until both pass. */
  async function onOthers(expect: ExpectStatic, label: string, since: number, check: (g: NodeHandle) => Promise<unknown>, expected: unknown) {
    await Promise.all(gateways.slice(1).map((g) => expect.poll(() => check(g), { interval: 20 }).toEqual(expected)));
    propagation[label] = Date.now() - since;
  }

  beforeAll(async () => {
    redis = await startRedis();
    prefix = uniquePrefix();
    rx = await startWebhookReceiver();
    db = kind === 'postgres' ? await createPostgresDatabase() : kind === 'mariadb' ? await createMysqlDatabase() : undefined;
    const env = {
      ...(db !== undefined ? { PUSH_APPS_STORE: kind === 'mariadb' ? db.url.replace(/^mysql:/, 'mariadb:') : db.url } : {}),
      PUSH_REDIS_PREFIX: prefix,
      PUSH_ADMIN_TOKEN: TOKEN,
      PUSH_APPS_RESYNC_MS: String(RESYNC_MS),
      PUSH_WEBHOOK_DELAY_MS: '1000',
      LOG_LEVEL: 'info',
    };
    gateways = await Promise.all([0, 1, 2].map(() => startNode({ app: null, redisUrl: redis.url, role: 'gateway', env })));
    const worker = await startNode({ app: null, redisUrl: redis.url, role: 'worker', env });
    nodes = [...gateways, worker];
  }, 120_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all((nodes ?? []).map((n) => n.kill()));
    await rx?.close();
    await redis?.stop();
    await db?.drop();
    console.log(`${kind}: admin change → seen on the two other gateways (ms):`, propagation);
  });

  let app: AppView;

  it.sequential('an app created on one gateway accepts sockets and signed triggers on the others within a second', async ({ expect }) => {
    const [g0] = gateways as [NodeHandle];
    const created = await admin(g0, 'POST', '/apps', { webhooks: [{ url: rx.url }] });
    const t0 = Date.now();
    expect(created.status).toBe(201);
    app = created.body as AppView;
    expect(app).toMatchObject({ enabled: true, version: 1, source: 'store' });
    expect(app.secret).toMatch(/^[0-9a-f]{32}$/);
    expect(created.etag).toBe('"1"');
    await onOthers(expect, 'create', t0, async (g) => [(await attempt(g, app.key)).code, await triggerStatus(g, app)], ['established', 200]);
  });

  it.sequential('an unmodified pusher-js on another gateway receives what the pusher SDK triggers for the new app', async ({ expect }) => {
    const client = connectPusherJs({ wsPort: gateways[2]!.wsPort, app });
    try {
      await waitForState(client, 'connected');
      const channel = await subscribeAndWait(client, 'news');
      const got = new Promise<unknown>((resolve) => channel.bind('hello', resolve));
      await sdk(gateways[1]!, app).trigger('news', 'hello', { n: 1 });
      expect(await got).toEqual({ n: 1 });
    } finally {
      client.disconnect();
    }
  });

  it.sequential('webhooks of the new app come from the worker, signed with its secret', async ({ expect }) => {
    const c = (await attempt(gateways[2]!, app.key)).client;
    c.send({ event: 'pusher:subscribe', data: { channel: 'room-1' } });
    await expect
      .poll(() =>
        rx
          .unique()
          .filter((e) => e.channel === 'room-1')
          .map((e) => e.name),
      )
      .toEqual(['channel_occupied']);
    const req = rx.delivered().find((r) => r.body.events.some((e) => e.channel === 'room-1'))!;
    const check = new Pusher({ appId: app.id, key: app.key, secret: app.secret, cluster: 'mt1' }).webhook({
      headers: req.headers,
      rawBody: req.rawBody,
    });
    expect(check.isValid()).toBe(true);
  });

  it.sequential('a rotated secret signs from now on; the old one verifies until its grace ends', async ({ expect }) => {
    const [g0, g1, g2] = gateways as [NodeHandle, NodeHandle, NodeHandle];
    const old = { ...app };
    const r = await admin(g0, 'POST', `/apps/${app.id}/rotate-secret`, { graceSeconds: 3600 });
    const t0 = Date.now();
    expect(r.status).toBe(200);
    app = r.body as AppView;
    expect(app.secret).not.toBe(old.secret);
    expect(app.previousSecrets).toHaveLength(1);
    expect(JSON.stringify(r.body)).not.toContain(old.secret);
    await onOthers(expect, 'rotate', t0, (g) => triggerStatus(g, app), 200);
    expect([await triggerStatus(g1, old), await triggerStatus(g2, old)]).toEqual([200, 200]);
    // A channel authorisation signed with the old secret still subscribes.
    const c = (await attempt(g2, app.key)).client;
    const auth = sdk(g2, old).authorizeChannel(c.socketId, 'private-x');
    c.send({ event: 'pusher:subscribe', data: { channel: 'private-x', auth: auth.auth } });
    await c.waitFor((f) => f.event === 'pusher_internal:subscription_succeeded');
    // Rotated again with no grace: the secret it replaces is refused at once, everywhere; the first
    // one keeps the grace it was given.
    const again = await admin(g0, 'POST', `/apps/${app.id}/rotate-secret`, { graceSeconds: 0 }, { 'if-match': `"${app.version}"` });
    expect(again.status).toBe(200);
    const previous = { ...app };
    app = again.body as AppView;
    await Promise.all([g1, g2].map((g) => expect.poll(() => triggerStatus(g, previous)).toBe(401)));
    expect(await triggerStatus(g1, old)).toBe(200);
    expect(await triggerStatus(g2, app)).toBe(200);
    expect((app.previousSecrets as unknown[]).length).toBe(1);
  });

  it.sequential('a lowered maxConnections refuses new sockets on every node; open ones stay', async ({ expect }) => {
    const [g0, g1, g2] = gateways as [NodeHandle, NodeHandle, NodeHandle];
    const open = await Promise.all([g1, g2].map(async (g) => (await attempt(g, app.key)).client));
    const r = await admin(g0, 'PATCH', `/apps/${app.id}`, { maxConnections: 1 });
    const t0 = Date.now();
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ maxConnections: 1, version: app.version + 1 });
    app = r.body as AppView;
    await onOthers(expect, 'maxConnections', t0, async (g) => (await attempt(g, app.key)).code, 4004);
    expect(open.map((c) => c.closeCode)).toEqual([undefined, undefined]);
    const back = await admin(g0, 'PATCH', `/apps/${app.id}`, { maxConnections: null });
    const t1 = Date.now();
    expect(back.body).not.toHaveProperty('maxConnections');
    app = back.body as AppView;
    // The limit gone everywhere before the next test opens sockets (a polled store applies it up to
    // a poll later: a socket refused meanwhile left the next test's channel never occupied).
    await onOthers(expect, 'maxConnections removed', t1, async (g) => (await attempt(g, app.key)).code, 'established');
  });

  it.sequential('changed webhooks apply to the next transition', async ({ expect }) => {
    const rx2 = await startWebhookReceiver();
    const occupiedAt = (r: WebhookReceiver, channel: string) => r.unique().some((e) => e.channel === channel && e.name === 'channel_occupied');
    /** Occupies a new channel and resolves with the receiver its channel_occupied went to. */
    let n = 0;
    const transition = async () => {
      const channel = `room-2-${n++}`;
      const { client: c, code } = await attempt(gateways[1]!, app.key);
      expect(code).toBe('established');
      c.send({ event: 'pusher:subscribe', data: { channel } });
      await expect.poll(() => occupiedAt(rx, channel) || occupiedAt(rx2, channel), { timeout: 30_000 }).toBe(true);
      c.close();
      return occupiedAt(rx2, channel) ? (occupiedAt(rx, channel) ? 'both' : 'new') : 'old';
    };
    try {
      const r = await admin(gateways[0]!, 'PATCH', `/apps/${app.id}`, { webhooks: [{ url: rx2.url, events: ['channel_occupied'] }] });
      expect(r.status).toBe(200);
      app = r.body as AppView;
      // Transitions decided before the worker applied the change still go to the old URL; once one
      // goes to the new URL, every later one does, and never to the old URL again.
      const seen: string[] = [];
      await expect
        .poll(
          async () => {
            seen.push(await transition());
            return seen.at(-1);
          },
          { timeout: 60_000, interval: 0 },
        )
        .toBe('new');
      expect(seen.slice(0, -1).every((s) => s === 'old')).toBe(true);
      expect([await transition(), await transition()]).toEqual(['new', 'new']);
    } finally {
      await rx2.close();
    }
  });

  it.sequential('a disabled app is closed with 4003 and refused 403 on every node; enabled again, it works', async ({ expect }) => {
    const [g0, g1, g2] = gateways as [NodeHandle, NodeHandle, NodeHandle];
    const open = await Promise.all([g1, g2].map(async (g) => (await attempt(g, app.key)).client));
    const r = await admin(g0, 'PATCH', `/apps/${app.id}`, { enabled: false });
    const t0 = Date.now();
    expect(r.status).toBe(200);
    expect(await Promise.all(open.map((c) => c.closed))).toEqual([4003, 4003]);
    propagation['disable (sockets closed)'] = Date.now() - t0;
    expect(await Promise.all([g1, g2].map(async (g) => (await attempt(g, app.key)).code))).toEqual([4003, 4003]);
    expect(await Promise.all([g1, g2].map((g) => triggerStatus(g, app)))).toEqual([403, 403]);
    const on = await admin(g0, 'PATCH', `/apps/${app.id}`, { enabled: true });
    const t1 = Date.now();
    app = on.body as AppView;
    await onOthers(expect, 'enable', t1, async (g) => (await attempt(g, app.key)).code, 'established');
  });

  it.sequential('a change that was never announced is applied by the next resync', async ({ expect }) => {
    await disableUnannounced(kind, app.id, redis.url, prefix, db);
    const t0 = Date.now();
    await Promise.all(gateways.map((g) => expect.poll(async () => (await attempt(g, app.key)).code, { timeout: RESYNC_MS * 5 }).toBe(4003)));
    propagation['unannounced (resync)'] = Date.now() - t0;
    const on = await admin(gateways[0]!, 'PATCH', `/apps/${app.id}`, { enabled: true });
    expect(on.status).toBe(200);
    app = on.body as AppView;
    await onOthers(expect, 'enable again', Date.now(), async (g) => (await attempt(g, app.key)).code, 'established');
  });

  it.sequential('a deleted app is closed with 4001 everywhere, its key refused by sockets and the API', async ({ expect }) => {
    const [g0, g1, g2] = gateways as [NodeHandle, NodeHandle, NodeHandle];
    const open = await Promise.all([g1, g2].map(async (g) => (await attempt(g, app.key)).client));
    const r = await admin(g0, 'DELETE', `/apps/${app.id}`);
    const t0 = Date.now();
    expect(r.status).toBe(204);
    expect(await Promise.all(open.map((c) => c.closed))).toEqual([4001, 4001]);
    propagation['delete (sockets closed)'] = Date.now() - t0;
    expect(await Promise.all([g1, g2].map(async (g) => (await attempt(g, app.key)).code))).toEqual([4001, 4001]);
    expect(await Promise.all([g1, g2].map((g) => triggerStatus(g, app)))).toEqual([400, 400]);
    expect((await admin(g1, 'GET', `/apps/${app.id}`)).status).toBe(404);
  });

  it.sequential('the audit list has every change, newest first, never a secret', async ({ expect }) => {
    const r = await admin(gateways[1]!, 'GET', '/audit?limit=50');
    const entries = (r.body as { entries: { action: string; appId: string; changes: Record<string, unknown> }[] }).entries.filter((e) => e.appId === app.id);
    expect(entries.map((e) => e.action)).toEqual([
      'delete',
      'update',
      'update',
      'update',
      'update',
      'update',
      'update',
      'rotate-secret',
      'rotate-secret',
      'create',
    ]);
    const text = JSON.stringify(r.body);
    expect(text).not.toContain(app.secret);
    expect(entries.find((e) => e.action === 'rotate-secret')?.changes).toMatchObject({ secret: '(changed)' });
    // Each change is also a log line of the node that made it, with the same redactions. The last
    // one may still be in the pipe from the node's stdout when its answer has come.
    const logged = () =>
      gateways[0]!
        .output()
        .split('\n')
        .filter((l) => l.includes('"app changed"') && l.includes(`"appId":"${app.id}"`));
    await expect.poll(() => logged().length).toBe(entries.length);
    expect(logged().join('\n')).not.toContain(app.secret);
  });

  describe.sequential('admin API refusals', () => {
    it.sequential('answers 401 without the token or with a wrong one, and no log line holds what was sent', async ({ expect }) => {
      const g = gateways[0]!;
      const wrong = `wrong-${randomBytes(12).toString('hex')}`;
      for (const headers of [{}, { authorization: `Bearer ${wrong}` }, { authorization: wrong }] as Record<string, string>[]) {
        const r = await fetch(`${g.apiUrl}/admin/v1/apps`, { headers });
        expect(r.status).toBe(401);
        expect(await r.json()).toMatchObject({ code: 401, error_code: 'PUSH_ERR_ADMIN_UNAUTHORIZED' });
      }
      expect(g.output()).not.toContain(wrong);
      expect(g.output()).not.toContain(TOKEN);
    });

    it.sequential('names every bad field, refuses duplicates and stale versions, and writes nothing', async ({ expect }) => {
      const g = gateways[0]!;
      const before = (await admin(g, 'GET', '/apps')).body as { apps: unknown[] };
      const bad = await admin(g, 'POST', '/apps', { colour: 'red', secret: 'short', maxConnections: -1, webhooks: [{ url: 'ftp://x.example/h' }] });
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({ error_code: 'PUSH_ERR_INVALID_APP' });
      expect((bad.body as { fields: { field: string }[] }).fields.map((f) => f.field).sort()).toEqual(['colour', 'maxConnections', 'secret', 'webhooks.0.url']);
      expect((await admin(g, 'POST', '/apps', { secret: 'changeme-changeme-1' })).status).toBe(400);
      const notJson = await fetch(`${g.apiUrl}/admin/v1/apps`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: '{nope' });
      expect(notJson.status).toBe(400);

      const a = (await admin(g, 'POST', '/apps', {})).body as AppView;
      const dupId = await admin(g, 'POST', '/apps', { id: a.id });
      const dupKey = await admin(g, 'POST', '/apps', { key: a.key });
      expect([dupId.status, dupKey.status]).toEqual([409, 409]);
      expect([dupId.body?.error_code, dupKey.body?.error_code]).toEqual(['PUSH_ERR_APP_EXISTS', 'PUSH_ERR_APP_EXISTS']);
      expect((await admin(g, 'PATCH', `/apps/${a.id}`, { key: 'other' })).status).toBe(400);
      expect((await admin(g, 'PATCH', `/apps/${a.id}`, { secret: randomBytes(16).toString('hex') })).status).toBe(400);
      expect((await admin(g, 'PATCH', '/apps/nope', { enabled: false })).status).toBe(404);
      expect((await admin(g, 'POST', `/apps/${a.id}/rotate-secret`, { graceSeconds: -5 })).status).toBe(400);

      const stale = await admin(g, 'PATCH', `/apps/${a.id}`, { clientEvents: false }, { 'if-match': '"7"' });
      expect(stale.status).toBe(409);
      expect(stale.body).toMatchObject({ error_code: 'PUSH_ERR_APP_VERSION_CONFLICT' });
      expect(((await admin(g, 'GET', `/apps/${a.id}`)).body as AppView).version).toBe(1);
      const after = (await admin(g, 'GET', '/apps')).body as { apps: unknown[] };
      expect(after.apps.length).toBe(before.apps.length + 1);
      expect(JSON.stringify(after)).not.toContain(a.secret);
    });

    it.sequential('concurrent PATCHes of one app on three nodes all apply (each against the version it read)', async ({ expect }) => {
      const a = (await admin(gateways[0]!, 'POST', '/apps', {})).body as AppView;
      const fields = ['maxPresenceMembers', 'maxChannelsPerConnection', 'maxClientEventsPerSecond'];
      const answers = await Promise.all(fields.map((f, i) => admin(gateways[i]!, 'PATCH', `/apps/${a.id}`, { [f]: 7 + i })));
      expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
      const final = (await admin(gateways[1]!, 'GET', `/apps/${a.id}`)).body as AppView;
      expect([final.version, final.maxPresenceMembers, final.maxChannelsPerConnection, final.maxClientEventsPerSecond]).toEqual([4, 7, 8, 9]);
      // With If-Match on the same version, exactly one of three wins.
      const raced = await Promise.all(gateways.map((g, i) => admin(g, 'PATCH', `/apps/${a.id}`, { maxPresenceMembers: 20 + i }, { 'if-match': '"4"' })));
      expect(raced.map((r) => r.status).sort()).toEqual([200, 409, 409]);
    });
  });
});
