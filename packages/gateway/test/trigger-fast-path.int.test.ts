/**
 * POST /apps/:appId/events and batch_events are answered by a fast path in front of fastify (api/trigger-fast-path.ts).
 * Two things are proven here: which requests it takes (the rest reach fastify untouched), and that
 * for every outcome its answer is fastify's answer. A chunked request always goes to fastify, so
 * the same request sent with and without Content-Length is answered once by each.
 */
import http from 'node:http';
import { PassThrough } from 'node:stream';
import { createMemoryState, noDebug } from '@herald/broker';
import { AppRegistry, parseAppsJson } from '@herald/config';
import { signApiRequest } from '@herald/protocol';
import { describe, expect, it } from 'vitest';
import { API_ERRORS } from '../src/api/errors.js';
import { createTriggerFastPath } from '../src/api/trigger-fast-path.js';
import { createMetrics } from '../src/metrics.js';
import { RawClient, startTestGateway, type TestGateway } from '@herald/test-support';

interface Answer {
  status: number;
  type: string | undefined;
  cors: string | undefined;
  body: string;
}

/** Sends a POST with Content-Length, or chunked (no Content-Length: Node then chunks the body). */
function post(port: number, target: string, body: string, chunked: boolean): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { 'content-type': 'application/json' };
    if (!chunked) headers['content-length'] = Buffer.byteLength(body);
    const req = http.request({ host: '127.0.0.1', port, path: target, method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          type: res.headers['content-type'],
          cors: res.headers['access-control-allow-origin'],
          body: text,
        }),
      );
    });
    req.on('error', reject);
    if (chunked) {
      // Two writes: the body really travels in chunks.
      req.write(body.slice(0, 1));
      req.end(body.slice(1));
    } else req.end(body);
  });
}

const signed = (
  t: TestGateway,
  body: string,
  opts: { appId?: string; key?: string; secret?: string; timestamp?: number; params?: Record<string, string>; route?: 'events' | 'batch_events' } = {},
) => {
  const path = `/apps/${opts.appId ?? t.app.id}/${opts.route ?? 'events'}`;
  const qs = signApiRequest({
    key: opts.key ?? t.app.key,
    secret: opts.secret ?? t.app.secret,
    method: 'POST',
    path,
    body,
    ...(opts.timestamp !== undefined ? { timestamp: opts.timestamp } : {}),
    ...(opts.params ? { params: opts.params } : {}),
  });
  return `${path}?${qs}`;
};

describe('the trigger fast path', () => {
  it('answers every outcome of POST /events and /batch_events exactly as fastify does', async () => {
    await using t = await startTestGateway({ apps: [{ maxChannelsPerTrigger: 3, maxEventPayloadBytes: 200, maxBatchSize: 2 }, { enabled: false }] });
    const disabled = t.gw.apps.apps[1]!;
    await using sub = await RawClient.established({ wsPort: t.wsPort, app: t.app });
    await sub.subscribe('news');
    const ev = (o: object) => JSON.stringify({ name: 'ev', channels: ['news'], data: 'hello', ...o });
    const cases: Array<[string, () => { target: string; body: string }, number]> = [
      ['a trigger', () => ({ target: signed(t, ev({})), body: ev({}) }), 200],
      ['with info', () => ({ target: signed(t, ev({ info: 'subscription_count' })), body: ev({ info: 'subscription_count' }) }), 200],
      ['an empty body', () => ({ target: signed(t, ''), body: '' }), 400],
      ['invalid JSON', () => ({ target: signed(t, '{"name":'), body: '{"name":' }), 400],
      ['a JSON array', () => ({ target: signed(t, '[1]'), body: '[1]' }), 400],
      ['no name', () => ({ target: signed(t, ev({ name: undefined })), body: ev({ name: undefined }) }), 400],
      ['too many channels', () => ({ target: signed(t, ev({ channels: ['a', 'b', 'c', 'd'] })), body: ev({ channels: ['a', 'b', 'c', 'd'] }) }), 400],
      ['a bad channel name', () => ({ target: signed(t, ev({ channels: ['a b'] })), body: ev({ channels: ['a b'] }) }), 400],
      ['data over the limit', () => ({ target: signed(t, ev({ data: 'x'.repeat(300) })), body: ev({ data: 'x'.repeat(300) }) }), 413],
      ['a wrong secret', () => ({ target: signed(t, ev({}), { secret: 'not-the-secret-at-all' }), body: ev({}) }), 401],
      ['an expired timestamp', () => ({ target: signed(t, ev({}), { timestamp: Math.floor(Date.now() / 1000) - 3600 }), body: ev({}) }), 401],
      ['a body other than the signed one', () => ({ target: signed(t, ev({})), body: ev({ data: 'changed' }) }), 401],
      ['no signature', () => ({ target: `/apps/${t.app.id}/events`, body: ev({}) }), 401],
      ['an unknown key', () => ({ target: signed(t, ev({}), { key: 'nobody' }), body: ev({}) }), 400],
      ['an unknown app', () => ({ target: signed(t, ev({}), { appId: '999999' }), body: ev({}) }), 200],
      ['a disabled app', () => ({ target: signed(t, ev({}), { appId: disabled.id, key: disabled.key, secret: disabled.secret }), body: ev({}) }), 403],
    ];
    const item = (o: object) => ({ name: 'ev', channel: 'news', data: 'hello', ...o });
    const batch = (items: object[]) => JSON.stringify({ batch: items });
    const batched = (body: string, opts: Parameters<typeof signed>[2] = {}) => ({ target: signed(t, body, { ...opts, route: 'batch_events' }), body });
    cases.push(
      ['a batch', () => batched(batch([item({}), item({ data: 'two' })])), 200],
      ['a batch with info', () => batched(batch([item({ info: 'subscription_count' }), item({})])), 200],
      ['a batch over maxBatchSize', () => batched(batch([item({}), item({}), item({})])), 400],
      ['a batch with one invalid item', () => batched(batch([item({}), item({ channel: 'a b' })])), 400],
      ['a batch item that is not an object', () => batched(batch([item({}), 'x' as never])), 400],
      ['no batch', () => batched(JSON.stringify({ items: [] })), 400],
      ['a batch with a wrong secret', () => batched(batch([item({})]), { secret: 'not-the-secret-at-all' }), 401],
    );
    for (const [name, make, status] of cases) {
      const { target, body } = make();
      // The expired-timestamp message quotes the server's clock: the same up to that.
      const clockless = (a: Answer) => ({ ...a, body: a.body.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, '<time>') });
      const fast = clockless(await post(t.apiPort, target, body, false));
      const viaFastify = clockless(await post(t.apiPort, target, body, true));
      expect(fast, name).toEqual(viaFastify);
      expect(fast.status, name).toBe(status);
      expect(fast.type, name).toBe('application/json; charset=utf-8');
      expect(fast.cors, name).toBeUndefined();
      if (status !== 200) {
        const body = JSON.parse(fast.body) as { error_code: string };
        expect(body, name).toEqual({ error: expect.any(String), code: status, error_code: expect.any(String) });
        expect(Object.values(API_ERRORS).find((e) => e.code === body.error_code)?.status, name).toBe(status);
      }
    }
    // Both paths published: the subscriber got each accepted event twice (an unknown app id is
    // found by its auth_key, as for webman/push's fixed /apps/1024; batches of 2 items), and
    // nothing refused, not even the valid items of a refused batch.
    const got = () => sub.frames.filter((f) => f.event === 'ev').length;
    await expect.poll(got).toBe(2 * (3 + 2 + 2));
    // Counted like every API request, by status.
    const metrics = await (await fetch(`${t.apiUrl}/metrics`)).text();
    expect(metrics).toMatch(/herald_api_requests_total\{status="200"[^}]*\} 10/);
    expect(metrics).toMatch(/herald_api_requests_total\{status="413"[^}]*\} 2/);
  });

  it('takes a plain POST /apps/:id/events or batch_events and nothing else, reading no byte of what it leaves', async () => {
    const apps = new AppRegistry(parseAppsJson(JSON.stringify([{ id: '7', key: 'k7', secret: 'secret-of-app-7-0123' }]), 'apps'));
    const state = createMemoryState();
    const metrics = createMetrics({ nodeId: 'n', native: true });
    const ctx = { apps, state, metrics, debug: noDebug, ready: () => true };
    let closing = false;
    const fast = createTriggerFastPath(ctx, { bodyLimit: 1000, closing: () => closing, answerError: () => ({ status: 500, body: {} }) });
    const body = JSON.stringify({ name: 'e', channel: 'c', data: 'd' });
    const target = `/apps/7/events?${signApiRequest({ key: 'k7', secret: 'secret-of-app-7-0123', method: 'POST', path: '/apps/7/events', body })}`;
    const request = (over: { method?: string; url?: string; headers?: Record<string, string> }) => {
      const req = Object.assign(new PassThrough(), {
        method: over.method ?? 'POST',
        url: over.url ?? target,
        headers: over.headers ?? { 'content-type': 'application/json', 'content-length': String(body.length) },
      });
      const answer: { status?: number; body?: string } = {};
      const res = {
        writeHead: (status: number) => (answer.status = status),
        end: (text: string) => (answer.body = text),
        destroy: () => undefined,
      };
      return { req, res, answer, taken: fast(req as never, res as never) };
    };

    const plain = request({});
    expect(plain.taken).toBe(true);
    plain.req.end(body);
    await expect.poll(() => plain.answer).toEqual({ status: 200, body: '{}' });

    // batch_events is taken too. This request is signed for /events, so it is refused, and the fast
    // path answers the refusal itself through answerError (which answers 500 in this test).
    const batch = request({ url: target.replace('/events', '/batch_events') });
    expect(batch.taken).toBe(true);
    batch.req.end(body);
    await expect.poll(() => batch.answer.status).toBe(500);

    const left = [
      request({ method: 'GET' }),
      request({ url: target.replace('/events', '/channels') }),
      request({ url: target.replace('/events', '/events/') }),
      request({ url: target.replace('/apps/7/', '/apps/%37/') }),
      request({ url: `/apps/${'9'.repeat(101)}/events` }),
      request({ headers: { 'content-length': String(body.length) } }),
      request({ headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }),
      request({ headers: { 'content-type': 'application/json', 'content-length': '1001' } }),
      request({ headers: { 'content-type': 'application/json' } }),
    ];
    closing = true;
    left.push(request({}));
    for (const r of left) {
      expect(r.taken, `${r.req.method} ${r.req.url} ${JSON.stringify(r.req.headers)}`).toBe(false);
      expect(r.req.listenerCount('data')).toBe(0);
    }
    await state.close();
  });
});
