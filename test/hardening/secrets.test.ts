/**
 * App secrets never leave the process, except where embedded mode prints it on purpose.
 *
 * A full scenario runs against an embedded node and against a cluster (a gateway node and the
 * webhook worker on Redis), every process at LOG_LEVEL=trace: pusher-js and raw clients on public,
 * private, presence and encrypted channels, good and forged auth, sign-in, client events, bad
 * frames, refused connections; every REST endpoint, good and with failed signatures; webhooks
 * (retried, and dead-lettered for an unreachable target). Everything observable is captured (all
 * stdout/stderr until the processes exit, /metrics of every process, every HTTP response and
 * error body, every WebSocket frame, every webhook request, the dead-letter list) and searched for
 * the secret (and its first and last 16 hex characters). The only allowed occurrence is the line
 * `  app secret: <secret>` of the embedded node's start-up banner.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signChannel, signUser } from '@herald/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectPusherJs,
  freePort,
  type NodeHandle,
  type PusherClient,
  randomTestApp,
  RawClient,
  rawRequest,
  type RawResponse,
  type RedisHandle,
  sdkFor,
  signedRequest,
  startAuthServer,
  startNode,
  startRedis,
  startWebhookReceiver,
  subscribeAndWait,
  type TestApp,
  uniquePrefix,
  waitForState,
} from '@herald/test-support';

interface Captured {
  where: string;
  text: string;
}

/** A webhook receiver that fails its first two requests (so retries are logged) and captures every request. */
const capturingReceiver = (capture: (where: string, text: string) => void) =>
  startWebhookReceiver(undefined, (n, req) => {
    capture('webhook request', `${req.method} ${req.url}\n${JSON.stringify(req.headers)}\n${req.rawBody}`);
    return n < 2 ? 500 : 200;
  });

/**
 * Everything a user or an attacker can do to one node; every answer is captured. Returns the raw
 * clients and pusher-js clients to close afterwards.
 */
async function exercise(node: NodeHandle, app: TestApp, capture: (where: string, text: string) => void) {
  const raws: RawClient[] = [];
  const pjs: PusherClient[] = [];
  const sdk = sdkFor(app, node);
  const t = { wsPort: node.wsPort, app };
  const raw = async (query?: string) => {
    const r = await RawClient.established(t, query);
    raws.push(r);
    return r;
  };
  const api = async (what: string, p: Promise<RawResponse>) => {
    const r = await p;
    capture(`api ${what} → ${r.status}`, `${JSON.stringify(r.headers)}\n${r.body}`);
    return r;
  };
  const id = app.id;
  const events = `/apps/${id}/events`;

  // --- WebSocket: pusher-js through an auth endpoint (private and presence), and raw clients
  const auth = await startAuthServer(sdk, {
    presence: ({ socketId }) => ({ user_id: `pjs-${socketId}`, user_info: { name: 'Pat' } }),
    allow: (channel) => channel !== 'private-denied',
  });
  try {
    const p = connectPusherJs(t, { authEndpoint: auth.authEndpoint, userAuthEndpoint: auth.userAuthEndpoint });
    pjs.push(p);
    await waitForState(p, 'connected');
    const priv = await subscribeAndWait(p, 'private-pjs');
    await subscribeAndWait(p, 'presence-pjs');
    const got: unknown[] = [];
    priv.bind('hello', (d: unknown) => got.push(d));
    await sdk.trigger('private-pjs', 'hello', { a: 1 });
    await expect.poll(() => got.length).toBe(1);
    p.signin();
    await expect(subscribeAndWait(p, 'private-denied')).rejects.toThrow(/failed/);
  } finally {
    await auth.close();
  }

  const a = await raw();
  const b = await raw();
  expect((await a.subscribe('pub')).event).toBe('pusher_internal:subscription_succeeded');
  for (const r of [a, b]) {
    expect((await r.subscribe('private-chat', { auth: signChannel(app.key, app.secret, r.socketId, 'private-chat') })).event).toBe(
      'pusher_internal:subscription_succeeded',
    );
    const cd = JSON.stringify({ user_id: `u-${r.socketId}`, user_info: { secretish: 'not the secret' } });
    expect((await r.subscribe('presence-room', { auth: signChannel(app.key, app.secret, r.socketId, 'presence-room', cd), channel_data: cd })).event).toBe(
      'pusher_internal:subscription_succeeded',
    );
    expect((await r.subscribe('private-encrypted-x', { auth: signChannel(app.key, app.secret, r.socketId, 'private-encrypted-x') })).event).toBe(
      'pusher_internal:subscription_succeeded',
    );
  }
  // forged auth of every kind
  await a.subscribe('private-forged', { auth: `${app.key}:${'0'.repeat(64)}` });
  await a.subscribe('private-forged-2', { auth: 'wrong-key:abc' });
  await a.subscribe('presence-forged', { auth: `${app.key}:${'1'.repeat(64)}`, channel_data: '{"user_id":"x"}' });
  await a.subscribe('presence-baddata', { auth: signChannel(app.key, app.secret, a.socketId, 'presence-baddata', 'not json'), channel_data: 'not json' });
  await a.subscribe('#server-to-user-nobody');
  // sign-in, good and bad
  const userData = JSON.stringify({ id: 'user-1', user_info: { n: 1 } });
  a.send({ event: 'pusher:signin', data: { auth: signUser(app.key, app.secret, a.socketId, userData), user_data: userData } });
  await a.waitFor((f) => f.event === 'pusher:signin_success');
  b.send({ event: 'pusher:signin', data: { auth: `${app.key}:${'2'.repeat(64)}`, user_data: userData } });
  await b.waitFor((f) => f.event === 'pusher:error' && (f.data as { code: number }).code === 4009);
  // client events: relayed, refused, rate-limited
  a.send({ event: 'client-typing', channel: 'private-chat', data: { on: true } });
  await b.waitFor((f) => f.event === 'client-typing');
  a.send({ event: 'client-x', channel: 'pub', data: {} });
  for (let i = 0; i < 15; i++) b.send({ event: 'client-burst', channel: 'presence-room', data: { i } });
  await b.waitFor((f) => f.event === 'pusher:error' && (f.data as { code: number }).code === 4301);
  // bad frames
  for (const f of [
    '{',
    'null',
    '{"event":"pusher_internal:member_added"}',
    '{"event":"nope"}',
    `{"event":"pusher:subscribe","data":{"channel":"${'x'.repeat(300)}"}}`,
  ])
    a.send(f);
  a.send({ event: 'pusher:ping' });
  await a.waitFor((f) => f.event === 'pusher:pong');
  // refused connections
  for (const path of [`/app/not-${app.key}`, `/app/${app.key}?protocol=9`, '/nope']) {
    const r = await RawClient.connect(`ws://127.0.0.1:${node.wsPort}${path}`);
    await r.closed;
    capture(`ws refused ${path}`, r.rawFrames.join('\n'));
  }

  // --- REST: every endpoint
  await api(
    'trigger',
    signedRequest(node.apiPort, app, {
      method: 'POST',
      path: events,
      params: {},
      body: JSON.stringify({
        name: 'e',
        channels: ['pub', 'presence-room', 'cache-c', 'private-encrypted-x'],
        data: '{"x":1}',
        info: 'subscription_count,user_count',
      }),
    }),
  );
  await api(
    'trigger socket_id',
    signedRequest(node.apiPort, app, { method: 'POST', path: events, body: JSON.stringify({ name: 'e', channel: 'pub', data: 'd', socket_id: a.socketId }) }),
  );
  await api(
    'batch',
    signedRequest(node.apiPort, app, {
      method: 'POST',
      path: `/apps/${id}/batch_events`,
      body: JSON.stringify({
        batch: [
          { name: 'e', channel: 'pub', data: 'd', info: 'subscription_count' },
          { name: 'e', channel: 'presence-room', data: 'd', info: 'user_count' },
        ],
      }),
    }),
  );
  await api(
    'send to user',
    signedRequest(node.apiPort, app, { method: 'POST', path: events, body: JSON.stringify({ name: 'e', channels: ['#server-to-user-user-1'], data: 'd' }) }),
  );
  await api('channels', signedRequest(node.apiPort, app, { method: 'GET', path: `/apps/${id}/channels`, params: { info: 'subscription_count' } }));
  await api(
    'channels presence',
    signedRequest(node.apiPort, app, { method: 'GET', path: `/apps/${id}/channels`, params: { filter_by_prefix: 'presence-', info: 'user_count' } }),
  );
  await api(
    'channel',
    signedRequest(node.apiPort, app, { method: 'GET', path: `/apps/${id}/channels/presence-room`, params: { info: 'subscription_count,user_count' } }),
  );
  await api('channel cache', signedRequest(node.apiPort, app, { method: 'GET', path: `/apps/${id}/channels/cache-c`, params: { info: 'cache' } }));
  await api('users', signedRequest(node.apiPort, app, { method: 'GET', path: `/apps/${id}/channels/presence-room/users` }));
  await api('terminate', signedRequest(node.apiPort, app, { method: 'POST', path: `/apps/${id}/users/nobody/terminate_connections`, body: '{}' }));
  await api('terminate (python path)', signedRequest(node.apiPort, app, { method: 'POST', path: '/users/nobody-2/terminate_connections', body: '{}' }));
  for (const path of ['/ready', '/health', '/metrics', '/push.js', '/plugin/webman/push/push.js', '/nope', '/apps/%ZZ/events']) {
    await api(`GET ${path}`, rawRequest(node.apiPort, { method: 'GET', path }));
  }
  // --- REST: every refusal
  const body = JSON.stringify({ name: 'e', channel: 'pub', data: 'd' });
  await api('wrong secret', signedRequest(node.apiPort, { ...app, secret: app.secret.split('').reverse().join('') }, { method: 'POST', path: events, body }));
  await api('expired', signedRequest(node.apiPort, app, { method: 'POST', path: events, body, timestamp: Math.floor(Date.now() / 1000) - 700 }));
  await api('future', signedRequest(node.apiPort, app, { method: 'GET', path: `/apps/${id}/channels`, timestamp: Math.floor(Date.now() / 1000) + 700 }));
  await api(
    'body changed',
    signedRequest(node.apiPort, app, { method: 'POST', path: events, body, mutateQuery: (q) => q.replace(/body_md5=[0-9a-f]+/, 'body_md5=' + '0'.repeat(32)) }),
  );
  await api('no body_md5', signedRequest(node.apiPort, app, { method: 'POST', path: events, body, mutateQuery: (q) => q.replace(/body_md5=[0-9a-f]+&?/, '') }));
  await api('unknown key', signedRequest(node.apiPort, { ...app, key: 'not-the-key' }, { method: 'GET', path: `/apps/${id}/channels` }));
  await api(
    'auth_version 2',
    signedRequest(node.apiPort, app, { method: 'GET', path: `/apps/${id}/channels`, mutateQuery: (q) => q.replace('auth_version=1.0', 'auth_version=2.0') }),
  );
  await api('missing params', rawRequest(node.apiPort, { method: 'GET', path: `/apps/${id}/channels` }));
  await api('unknown app', rawRequest(node.apiPort, { method: 'GET', path: '/apps/999999999/channels' }));
  await api('invalid json', signedRequest(node.apiPort, app, { method: 'POST', path: events, body: '{nope' }));
  await api(
    'too large data',
    signedRequest(node.apiPort, app, { method: 'POST', path: events, body: JSON.stringify({ name: 'e', channel: 'pub', data: 'x'.repeat(10_241) }) }),
  );
  await api(
    '101 channels',
    signedRequest(node.apiPort, app, {
      method: 'POST',
      path: events,
      body: JSON.stringify({ name: 'e', channels: Array.from({ length: 101 }, (_, i) => `c${i}`), data: 'd' }),
    }),
  );
  await api('bad channel', signedRequest(node.apiPort, app, { method: 'POST', path: events, body: JSON.stringify({ name: 'e', channel: 'a b', data: 'd' }) }));
  await api(
    'bad socket id',
    signedRequest(node.apiPort, app, { method: 'POST', path: events, body: JSON.stringify({ name: 'e', channel: 'pub', data: 'd', socket_id: 'x' }) }),
  );
  await api('user_count on public', signedRequest(node.apiPort, app, { method: 'GET', path: `/apps/${id}/channels/pub`, params: { info: 'user_count' } }));
  await api(
    'body over 256 KB',
    signedRequest(node.apiPort, app, { method: 'POST', path: events, body: JSON.stringify({ name: 'e', channel: 'pub', data: 'x'.repeat(300 * 1024) }) }),
  );
  await api(
    '500 (deep data)',
    signedRequest(node.apiPort, app, { method: 'POST', path: events, body: `{"name":"e","channel":"pub","data":${'['.repeat(20_000)}${']'.repeat(20_000)}}` }),
  );

  // the WebSocket side saw every frame
  for (const r of raws) capture(`ws frames ${r.socketId}`, r.rawFrames.join('\n'));
  return { raws, pjs };
}

describe('app secrets never leak (logs at trace, metrics, error bodies, frames, webhooks)', () => {
  let redis: RedisHandle;
  const procs: NodeHandle[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    await redis?.stop();
  });

  it('embedded node and cluster node + worker: the secret is printed only by the embedded start-up banner', { timeout: 120_000 }, async () => {
    const captured: Captured[] = [];
    const capture = (where: string, text: string) => captured.push({ where, text });
    let embApp: TestApp;
    const cluApp = randomTestApp();
    const adminToken = `admin-${randomBytes(12).toString('hex')}`;
    const rxEmb = await capturingReceiver(capture);
    const rxClu = await capturingReceiver(capture);
    try {
      const trace = { LOG_LEVEL: 'trace', PUSH_WEBHOOK_DELAY_MS: '1000' };
      // Embedded with no app configured: it generates one, prints its secret once, keeps it in the file.
      const credFile = join(mkdtempSync(join(tmpdir(), 'herald-cred-')), 'c.json');
      const embedded = await startNode({ app: null, role: 'embedded', env: { ...trace, PUSH_WEBHOOK_URL: rxEmb.url, PUSH_CREDENTIALS_FILE: credFile } });
      procs.push(embedded);
      embApp = JSON.parse(readFileSync(credFile, 'utf8')) as TestApp;
      // The cluster app has a second webhook to a closed port: retried, then dead-lettered.
      const dir = mkdtempSync(join(tmpdir(), 'herald-secrets-'));
      const appsFile = join(dir, 'apps.json');
      const deadPort = await freePort();
      writeFileSync(
        appsFile,
        JSON.stringify([{ ...cluApp, webhooks: [{ url: rxClu.url }, { url: `http://127.0.0.1:${deadPort}/gone`, events: ['channel_occupied'] }] }]),
      );
      const prefix = uniquePrefix();
      const cluEnv = { ...trace, PUSH_APPS_FILE: appsFile, PUSH_WEBHOOK_RETRY_WINDOW_MS: '1500', PUSH_NODE_LEASE_MS: '2000', PUSH_ADMIN_TOKEN: adminToken };
      const gateway = await startNode({ app: cluApp, redisUrl: redis.url, prefix, nodeId: `g-${prefix}`, env: cluEnv });
      const worker = await startNode({ app: cluApp, redisUrl: redis.url, prefix, nodeId: `w-${prefix}`, env: cluEnv, role: 'worker' });
      procs.push(gateway, worker);

      const clients: { raws: RawClient[]; pjs: PusherClient[] }[] = [];
      clients.push(await exercise(embedded, embApp, capture));
      clients.push(await exercise(gateway, cluApp, capture));

      // Webhooks went out (after two refused attempts) from both; the dead target was dead-lettered.
      await expect.poll(() => rxEmb.events().some((e) => e.name === 'member_added'), { timeout: 15_000 }).toBe(true);
      await expect.poll(() => rxClu.events().some((e) => e.name === 'member_added'), { timeout: 15_000 }).toBe(true);
      await expect.poll(() => rxClu.events().some((e) => e.name === 'client_event'), { timeout: 15_000 }).toBe(true);
      const deadLetters = async () =>
        (await rawRequest(worker.apiPort, { method: 'GET', path: '/dead-letters', headers: { authorization: `Bearer ${adminToken}` } })).body;
      await expect
        .poll(async () => (JSON.parse(await deadLetters()) as { dead_letters: unknown[] }).dead_letters.length, { timeout: 15_000 })
        .toBeGreaterThan(0);
      capture('worker dead letters', await deadLetters());
      for (const n of [embedded, gateway, worker]) capture(`metrics ${n.nodeId}`, (await rawRequest(n.apiPort, { method: 'GET', path: '/metrics' })).body);

      // Leave, so vacated/member_removed webhooks and close paths are logged too; then stop cleanly.
      for (const c of clients) {
        for (const p of c.pjs) p.disconnect();
        for (const r of c.raws) await r[Symbol.asyncDispose]();
      }
      await expect.poll(() => rxClu.events().some((e) => e.name === 'channel_vacated'), { timeout: 15_000 }).toBe(true);
      for (const n of [embedded, gateway, worker]) {
        expect(await n.kill('SIGTERM')).toBe(0);
        capture(`output ${n.nodeId}`, n.output());
      }
      // Started again on the same file (credentials loaded), or with the secret in PUSH_APP_SECRET:
      // the banner names the app but not its secret.
      for (const again of [
        await startNode({ app: null, role: 'embedded', env: { ...trace, PUSH_CREDENTIALS_FILE: credFile } }),
        await startNode({
          app: embApp,
          role: 'embedded',
          env: { ...trace, PUSH_CREDENTIALS_FILE: join(mkdtempSync(join(tmpdir(), 'herald-cred-')), 'c.json') },
        }),
      ]) {
        procs.push(again);
        expect(await again.kill('SIGTERM')).toBe(0);
        expect(again.output()).toContain(`app key:    ${embApp.key}`);
        capture(`output again ${again.nodeId}`, again.output());
      }
      // A start-up refused for a bad apps file names the problem, not the secret.
      const badFile = join(dir, 'bad.json');
      writeFileSync(badFile, JSON.stringify([{ ...cluApp, maxConnections: -1, webhooks: [{ url: 'not a url' }] }]));
      const bad = await startNode({ app: cluApp, redisUrl: redis.url, prefix, env: { ...cluEnv, PUSH_APPS_FILE: badFile }, waitReady: false });
      procs.push(bad);
      expect(await bad.exited).toBe(1);
      capture('output of a refused start', bad.output());
    } finally {
      await rxEmb.close();
      await rxClu.close();
    }

    // The logs really were at trace level, and the scenario really hit the error paths.
    const all = captured.map((c) => c.text).join('\n');
    expect(all).toContain('"level":10');
    expect(all).toMatch(/Invalid signature/);
    expect(all).toMatch(/Timestamp expired/);
    expect(all).toMatch(/webhook attempt failed/);
    expect(all).toMatch(/webhook dead-lettered/);
    console.log(`secret scan: ${captured.length} captures, ${all.length} characters`);

    // Process output (logs at trace) never holds presence channel_data, nor a string that was
    // signed (a subscription's `<socket_id>:<channel>…`, a REST request's `METHOD\n/path\nquery`),
    // although the clients themselves are told the latter in their error messages.
    const outputs = captured.filter((c) => c.where.startsWith('output'));
    expect(outputs.length).toBeGreaterThanOrEqual(5);
    expect(captured.some((c) => !c.where.startsWith('output') && c.text.includes(':presence-forged:'))).toBe(true);
    for (const needle of ['secretish', 'not the secret', ':presence-forged', ':private-forged', ':presence-baddata', '\\n/apps/', 'POST\n/apps/']) {
      expect(outputs.filter((c) => c.text.includes(needle)).map((c) => `${c.where}: ${needle}`)).toEqual([]);
    }

    const needles = (secret: string) => [secret, secret.slice(0, 16), secret.slice(-16)];
    // The cluster app's secret and the worker's admin token: nowhere at all.
    for (const needle of [...needles(cluApp.secret), ...needles(adminToken)]) {
      expect(captured.filter((c) => c.text.includes(needle)).map((c) => c.where)).toEqual([]);
    }
    // The embedded app's secret: only on its banner line, exactly once.
    for (const needle of needles(embApp.secret)) {
      const lines = captured.flatMap((c) =>
        c.text
          .split('\n')
          .filter((l) => l.includes(needle))
          .map((l) => `${c.where}: ${l}`),
      );
      expect(lines).toEqual([
        `output ${captured.find((c) => c.where.startsWith('output ') && c.text.includes('Herald push server (embedded single node)'))!.where.slice(7)}: ${'  app secret: '}${embApp.secret}`,
      ]);
    }
  });
});
