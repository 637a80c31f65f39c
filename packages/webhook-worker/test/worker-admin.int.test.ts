/**
 * The webhook worker's administrative routes (the dead letters) against a real redis-server: a bearer
 * token (PUSH_ADMIN_TOKEN) or 404, explicit replay and delete bodies, probes left open, and target
 * credentials kept out of stored dead letters while a replay still delivers with them.
 */
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { createRedisState, RedisWebhooks, type RedisClusterState } from '@herald/broker';
import { createWorkerHttp, RedisWebhookWorker } from '@herald/webhook-worker';
import type { WebhookApp } from '@herald/webhooks';
import { WORKER_HTTP_ERRORS } from '../src/worker-http-error.js';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomTestApp, type RedisHandle, startNode, startRedis, startWebhookReceiver, uniquePrefix } from '@herald/test-support';

const TOKEN = 'admin-token-7f3a9c1e5b2d4f60';

/** An HTTP answer, from fastify's inject or over a real connection. */
interface Answer {
  status: number;
  body: string;
  json: () => Record<string, unknown>;
}

/** GET /health with that `Expect` header, over a real connection. */
function expectHeader(port: number, expect: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/health', headers: { expect } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, json: () => JSON.parse(body) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end();
  });
}
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const json = { 'content-type': 'application/json' };

/** A pino logger whose lines are kept, to check what was (and was not) logged. */
function capturedPino() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines, parsed: () => lines.map((l) => JSON.parse(l) as { level: number; msg: string }) };
}

let redis: RedisHandle;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A worker and its HTTP port on a fresh prefix; `start` also runs the worker (keyspace, delivery). */
async function setup(opts: { adminToken?: string; app?: WebhookApp; start?: boolean; outboxMax?: number; retryWindowMs?: number }) {
  const state: RedisClusterState = await createRedisState({ url: redis.url, prefix: uniquePrefix(), nodeId: `w-${Math.random()}`, log: quiet });
  cleanups.push(() => state.close());
  const app = opts.app ?? { id: 'app1', key: 'key1', secret: 'secret-0123456789abcdef', webhooks: [] };
  const worker = new RedisWebhookWorker({
    state,
    apps: (id) => (id === app.id ? app : undefined),
    delayMs: 50,
    workerId: 'w1',
    claimMs: 2000,
    retry: { windowMs: opts.retryWindowMs ?? 300_000, initialDelayMs: 50, attemptTimeoutMs: 2000 },
    ...(opts.outboxMax !== undefined ? { outboxMax: opts.outboxMax } : {}),
    log: quiet,
  });
  if (opts.start) {
    await worker.start();
    cleanups.push(() => worker.close(1000));
  }
  const logs = capturedPino();
  const http: FastifyInstance = createWorkerHttp(worker, {
    nodeId: 'w1',
    log: logs.log,
    ...(opts.adminToken !== undefined ? { adminToken: opts.adminToken } : {}),
  });
  cleanups.push(() => http.close());
  const webhooks = new RedisWebhooks(state.redis, state.keys);
  const inject = async (o: InjectOptions) => {
    const r = await http.inject(o);
    return { status: r.statusCode, body: r.body, json: () => r.json<Record<string, unknown>>(), headers: r.headers };
  };
  const deadLetter = (n: number) =>
    webhooks.deadLetter({
      appId: app.id,
      target: 'http://127.0.0.1:9/hooks',
      error: 'receiver answered 503',
      events: [{ name: 'channel_occupied', channel: `ch-${n}` }],
      eventIds: [`e-${n}`],
    });
  const dead = async () => (await webhooks.deadLetters()).map((d) => d.id);
  const xlen = () => state.redis.xlen(state.keys.webhookOutbox());
  return { state, worker, http, logs, webhooks, inject, deadLetter, dead, xlen, app };
}

/** The dead-letter routes, each with its URL as a string (for assertion messages). */
const ROUTES: Array<InjectOptions & { url: string }> = [
  { method: 'GET', url: '/dead-letters' },
  { method: 'POST', url: '/dead-letters/replay', headers: json, payload: '{"all":true}' },
  { method: 'DELETE', url: '/dead-letters?all=true' },
];

describe('webhook worker administrative routes', () => {
  it('without PUSH_ADMIN_TOKEN the dead-letter routes answer 404 like an unknown route, and the worker says why once', async () => {
    const w = await setup({});
    await w.deadLetter(1);
    const unknown = await w.inject({ method: 'GET', url: '/no-such-route' });
    expect(unknown.status).toBe(404);
    expect(unknown.json()).toEqual({ error: 'Not found', code: 404, error_code: 'PUSH_ERR_NOT_FOUND' });
    for (const route of ROUTES) {
      for (const headers of [{}, bearer(TOKEN)]) {
        const r = await w.inject({ ...route, headers: { ...route.headers, ...headers } });
        expect(r.status, `${route.method} ${route.url}`).toBe(404);
        expect(r.json()).toEqual({ error: 'Not found', code: 404, error_code: 'PUSH_ERR_NOT_FOUND' });
      }
    }
    expect(await w.dead()).toHaveLength(1);
    const notices = w.logs.parsed().filter((l) => /dead-letter endpoints disabled/.test(l.msg));
    expect(notices).toHaveLength(1);
    expect(notices[0]!.msg).toContain('PUSH_ADMIN_TOKEN');
    expect(notices[0]!.level).toBeGreaterThanOrEqual(30);
  });

  it('answers 401 without the token or with another one, and neither answers nor logs a token', async () => {
    const w = await setup({ adminToken: TOKEN });
    await w.deadLetter(1);
    const wrong = ['wrong-token-0000000000000000', TOKEN.slice(0, -1), `${TOKEN}x`, TOKEN.toUpperCase()];
    const attempts: Record<string, string>[] = [
      {},
      { authorization: '' },
      { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` },
      { authorization: TOKEN },
      { authorization: 'Bearer' },
      ...wrong.map(bearer),
    ];
    for (const route of ROUTES) {
      for (const headers of attempts) {
        const r = await w.inject({ ...route, headers: { ...route.headers, ...headers } });
        expect(r.status, `${route.method} ${route.url} ${JSON.stringify(headers)}`).toBe(401);
        expect(r.json()).toEqual({ error: expect.any(String), code: 401, error_code: 'PUSH_ERR_ADMIN_UNAUTHORIZED' });
        expect(r.headers['www-authenticate']).toBe('Bearer');
        for (const t of [TOKEN, ...wrong]) expect(r.body).not.toContain(t);
      }
    }
    // Nothing was replayed or deleted, and the refusals were logged without any token.
    expect(await w.dead()).toHaveLength(1);
    expect(await w.xlen()).toBe(0);
    expect(w.logs.lines.some((l) => l.includes('admin request refused'))).toBe(true);
    for (const t of [TOKEN, ...wrong, 'admin:']) expect(w.logs.lines.join('\n')).not.toContain(t);
    // The right token, with the scheme in any case.
    expect((await w.inject({ method: 'GET', url: '/dead-letters', headers: { authorization: `bearer ${TOKEN}` } })).status).toBe(200);
  });

  it('keeps /ready, /health and /metrics open without a token', async () => {
    const w = await setup({ adminToken: TOKEN, start: true });
    await expect.poll(async () => (await w.inject({ method: 'GET', url: '/ready' })).status).toBe(200);
    expect((await w.inject({ method: 'GET', url: '/health' })).json()).toEqual({ ok: true });
    const metrics = await w.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/herald_webhook_outbox_full_total\{[^}]*\} 0/);
  });

  it('replays only for {"ids": [...]} or {"all": true} as JSON: any other body is a 400 and replays nothing', async () => {
    const w = await setup({ adminToken: TOKEN });
    await w.deadLetter(1);
    await w.deadLetter(2);
    const [id1] = await w.dead();
    const bad: { body?: string; type?: string }[] = [
      {},
      { body: '' },
      { body: 'all=true', type: 'application/x-www-form-urlencoded' },
      { body: '{"all":true}', type: 'text/plain' },
      { body: '{"all":true}' }, // no content type at all
      { body: 'not json', type: 'application/json' },
      { body: '{}', type: 'application/json' },
      { body: 'null', type: 'application/json' },
      { body: '[]', type: 'application/json' },
      { body: 'true', type: 'application/json' },
      { body: '{"all":1}', type: 'application/json' },
      { body: '{"all":"true"}', type: 'application/json' },
      { body: '{"all":false}', type: 'application/json' },
      { body: '{"ids":"x"}', type: 'application/json' },
      { body: `{"ids":"${id1}"}`, type: 'application/json' },
      { body: '{"ids":[1]}', type: 'application/json' },
      { body: '{"ids":[null]}', type: 'application/json' },
      { body: '{"ids":[]}', type: 'application/json' },
      { body: '{"ids":["not-an-id"]}', type: 'application/json' },
      { body: `{"ids":["${id1}"],"all":true}`, type: 'application/json' },
      { body: '{"all":true,"ids":[]}', type: 'application/json' },
      { body: '{"all":true,"extra":1}', type: 'application/json' },
    ];
    for (const b of bad) {
      const r = await w.inject({
        method: 'POST',
        url: '/dead-letters/replay',
        headers: { ...bearer(TOKEN), ...(b.type !== undefined ? { 'content-type': b.type } : {}) },
        ...(b.body !== undefined ? { payload: b.body } : {}),
      });
      expect(r.status, JSON.stringify(b)).toBe(400);
      expect(r.json()).toEqual({ error: expect.any(String), code: 400, error_code: 'PUSH_ERR_INVALID_PARAMETER' });
    }
    expect(await w.dead()).toHaveLength(2);
    expect(await w.xlen()).toBe(0);
  });

  it('replays by id and all, deletes by id and with ?all=true; a bare DELETE is a 400', async () => {
    const w = await setup({ adminToken: TOKEN });
    for (let i = 1; i <= 3; i++) await w.deadLetter(i);
    const [id1, id2, id3] = await w.dead();
    const listed = await w.inject({ method: 'GET', url: '/dead-letters?count=2', headers: bearer(TOKEN) });
    expect((listed.json().dead_letters as { id: string }[]).map((d) => d.id)).toEqual([id1, id2]);
    expect((await w.inject({ method: 'GET', url: '/dead-letters?count=0', headers: bearer(TOKEN) })).status).toBe(400);

    const byId = await w.inject({
      method: 'POST',
      url: '/dead-letters/replay',
      headers: { ...bearer(TOKEN), 'content-type': 'application/json; charset=utf-8' },
      payload: JSON.stringify({ ids: [id2] }),
    });
    expect(byId.json()).toEqual({ replayed: 1 });
    expect(await w.dead()).toEqual([id1, id3]);
    const entries = await w.state.redis.xrange(w.state.keys.webhookOutbox(), '-', '+');
    expect(entries).toHaveLength(1);
    expect(entries[0]![1]).toEqual(expect.arrayContaining(['target', 'http://127.0.0.1:9/hooks', 'eid', 'e-2']));

    const all = await w.inject({ method: 'POST', url: '/dead-letters/replay', headers: { ...bearer(TOKEN), ...json }, payload: '{"all":true}' });
    expect(all.json()).toEqual({ replayed: 2 });
    expect(await w.dead()).toEqual([]);
    expect(await w.xlen()).toBe(3);

    for (let i = 4; i <= 7; i++) await w.deadLetter(i);
    const [d4, d5, d6, d7] = await w.dead();
    for (const url of [
      '/dead-letters',
      '/dead-letters?all=1',
      '/dead-letters?all=yes',
      '/dead-letters?id=nope',
      `/dead-letters?id=${d4}&all=true`,
      '/dead-letters?ids=1-0',
    ]) {
      const r = await w.inject({ method: 'DELETE', url, headers: bearer(TOKEN) });
      expect(r.status, url).toBe(400);
      expect(r.json()).toEqual({ error: expect.any(String), code: 400, error_code: 'PUSH_ERR_INVALID_PARAMETER' });
    }
    expect(await w.dead()).toHaveLength(4);
    expect((await w.inject({ method: 'DELETE', url: `/dead-letters?id=${d4}&id=${d6}`, headers: bearer(TOKEN) })).json()).toEqual({ deleted: 2 });
    expect(await w.dead()).toEqual([d5, d7]);
    expect((await w.inject({ method: 'DELETE', url: '/dead-letters?all=true', headers: bearer(TOKEN) })).json()).toEqual({ deleted: 2 });
    expect(await w.dead()).toEqual([]);
  });

  it('refuses a replay into a full outbox with a 503 saying why, and keeps the dead letters', async () => {
    const w = await setup({ adminToken: TOKEN, outboxMax: 100 });
    await w.deadLetter(1);
    await w.deadLetter(2);
    const filler = new RedisWebhooks(w.state.redis, w.state.keys, { outboxMax: 100 });
    for (let i = 0; i < 100; i++) expect(await filler.append(w.app.id, { name: 'cache_miss', channel: `c${i}` })).toBe(true);
    const r = await w.inject({ method: 'POST', url: '/dead-letters/replay', headers: { ...bearer(TOKEN), ...json }, payload: '{"all":true}' });
    expect(r.status).toBe(503);
    expect(r.json()).toEqual({ error: expect.stringMatching(/outbox is full/), code: 503, error_code: 'PUSH_ERR_WEBHOOK_OUTBOX_FULL', replayed: 0 });
    expect(await w.dead()).toHaveLength(2);
    expect(await w.xlen()).toBe(100);
  });

  it('stores a dead letter without the target URL credentials, and a replay delivers with them', async () => {
    let fixed = false;
    const rx = await startWebhookReceiver(undefined, () => (fixed ? 200 : 503));
    cleanups.push(() => rx.close());
    const port = new URL(rx.url).port;
    const app: WebhookApp = { id: 'app1', key: 'key1', secret: 'secret-0123456789abcdef', webhooks: [{ url: `http://user:pass@127.0.0.1:${port}/hook` }] };
    const w = await setup({ adminToken: TOKEN, app, start: true, retryWindowMs: 300 });
    // What a gateway appends for a client event.
    await w.webhooks.append(app.id, { name: 'client_event', channel: 'private-x', event: 'client-a', data: '{"n":1}', socket_id: '1.2' });
    const list = async () => await w.inject({ method: 'GET', url: '/dead-letters', headers: bearer(TOKEN) });
    await expect.poll(async () => ((await list()).json().dead_letters as unknown[]).length).toBe(1);
    const listed = await list();
    expect(listed.body).not.toContain('pass');
    const [d] = listed.json().dead_letters as { id: string; target: string }[];
    expect(d!.target).toBe(`http://127.0.0.1:${port}/hook`);
    expect(JSON.stringify(await w.state.redis.xrange(w.state.keys.webhookDead(), '-', '+'))).not.toContain('pass');
    // Every failed attempt carried the credentials (fetch refuses userinfo: they go as Basic auth).
    const basic = `Basic ${Buffer.from('user:pass').toString('base64')}`;
    expect(rx.requests.length).toBeGreaterThan(0);
    expect(rx.requests.every((q) => q.headers.authorization === basic)).toBe(true);

    fixed = true;
    const sentBefore = rx.requests.length;
    const r = await w.inject({
      method: 'POST',
      url: '/dead-letters/replay',
      headers: { ...bearer(TOKEN), ...json },
      payload: JSON.stringify({ ids: [d!.id] }),
    });
    expect(r.json()).toEqual({ replayed: 1 });
    await expect.poll(() => rx.requests.length).toBeGreaterThan(sentBefore);
    const replayed = rx.requests[sentBefore]!;
    expect(replayed.url).toBe('/hook');
    expect(replayed.headers.authorization).toBe(basic);
    expect((JSON.parse(replayed.rawBody) as { events: unknown[] }).events).toEqual([
      { name: 'client_event', channel: 'private-x', event: 'client-a', data: '{"n":1}', socket_id: '1.2' },
    ]);
    await expect.poll(() => w.xlen()).toBe(0);
    expect(await w.dead()).toEqual([]);
  });
});

describe('webhook worker process: PUSH_ADMIN_TOKEN', () => {
  it('serves the dead letters with the token, 404 and one log line without it', async () => {
    const app = randomTestApp();
    const prefix = uniquePrefix();
    const withToken = await startNode({ app, redisUrl: redis.url, prefix, role: 'worker', env: { PUSH_ADMIN_TOKEN: TOKEN } });
    cleanups.push(() => withToken.kill('SIGKILL'));
    expect((await fetch(`${withToken.apiUrl}/dead-letters`)).status).toBe(401);
    const ok = await fetch(`${withToken.apiUrl}/dead-letters`, { headers: bearer(TOKEN) });
    expect(await ok.json()).toEqual({ dead_letters: [] });
    expect(withToken.output()).not.toContain(TOKEN);
    expect(withToken.output()).not.toContain('dead-letter endpoints disabled');

    const without = await startNode({ app, redisUrl: redis.url, prefix, role: 'worker' });
    cleanups.push(() => without.kill('SIGKILL'));
    const r = await fetch(`${without.apiUrl}/dead-letters`, { headers: bearer(TOKEN) });
    expect(r.status).toBe(404);
    expect(await r.json()).toEqual({ error: 'Not found', code: 404, error_code: 'PUSH_ERR_NOT_FOUND' });
    expect((await fetch(`${without.apiUrl}/health`)).status).toBe(200);
    expect(without.output().match(/dead-letter endpoints disabled[^"]*PUSH_ADMIN_TOKEN/g)).toHaveLength(1);
  });

  it('answers every refusal with an error_code the registry declares with that status, and every entry is reachable', async () => {
    const w = await setup({ adminToken: TOKEN, outboxMax: 1 });
    const admin = { ...bearer(TOKEN), ...json };
    await w.deadLetter(1);
    expect(await new RedisWebhooks(w.state.redis, w.state.keys, { outboxMax: 1 }).append(w.app.id, { name: 'cache_miss', channel: 'c' })).toBe(true);
    const answers: Answer[] = [
      await w.inject({ method: 'GET', url: '/no-such-route' }),
      await w.inject({ method: 'GET', url: '/dead-letters' }),
      await w.inject({ method: 'GET', url: '/dead-letters', headers: bearer('wrong-token-0000000000000000') }),
      await w.inject({ method: 'DELETE', url: '/dead-letters', headers: bearer(TOKEN) }),
      await w.inject({ method: 'GET', url: '/dead-letters?count=0', headers: bearer(TOKEN) }),
      await w.inject({ method: 'POST', url: '/dead-letters/replay', headers: admin, payload: 'x'.repeat(1024 * 1024 + 1) }),
      await w.inject({ method: 'GET', url: '/dead-letters/%E0%A4%A', headers: bearer(TOKEN) }),
      await w.inject({ method: 'POST', url: '/dead-letters/replay', headers: admin, payload: '{"all":true}' }),
    ];
    await w.state.close();
    answers.push(await w.inject({ method: 'GET', url: '/dead-letters', headers: bearer(TOKEN) }));
    // Node's server answers this one itself, before fastify (and inject) see the request.
    await w.http.listen({ host: '127.0.0.1', port: 0 });
    answers.push(await expectHeader((w.http.server.address() as AddressInfo).port, 'x-nothing'));

    const seen = new Set<string>();
    for (const r of answers) {
      const body = r.json();
      expect(r.status, r.body).toBeGreaterThanOrEqual(400);
      expect(body, r.body).toMatchObject({ error: expect.any(String), code: r.status, error_code: expect.any(String) });
      expect(Object.values(WORKER_HTTP_ERRORS).find((e) => e.code === body.error_code)?.status, r.body).toBe(r.status);
      seen.add(body.error_code as string);
    }
    expect([...seen].sort()).toEqual(
      Object.values(WORKER_HTTP_ERRORS)
        .map((e) => e.code)
        .sort(),
    );
  });
});
