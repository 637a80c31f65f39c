/**
 * The answers the API listener writes before any route runs (the router, fastify's body limit,
 * Node's HTTP parser and timeouts, the drain) carry the same body as a route's refusal: the
 * message, the numeric status and the registry's string code declared with that status.
 */
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { createMemoryState, noDebug } from '@herald/broker';
import { AppRegistry, parseAppsJson } from '@herald/config';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { sendRawHttp } from '@herald/test-support';
import { API_ERRORS } from '../src/api/errors.js';
import { createApiServer } from '../src/api/server.js';
import { createMetrics } from '../src/metrics.js';

/** A REST API server on port 0 over memory state; `onDrain` runs in a preClose hook after the server's own. */
async function startApi(onDrain?: () => Promise<void>) {
  const apps = new AppRegistry(parseAppsJson(JSON.stringify([{ id: '7', key: 'k7', secret: 'secret-of-app-7-0123' }]), 'apps'));
  const ctx = { apps, state: createMemoryState(), metrics: createMetrics({ nodeId: 'n', native: true }), debug: noDebug, ready: () => true };
  const f = createApiServer(ctx, pino({ level: 'silent' }), { headersTimeoutMs: 300, requestTimeoutMs: 300, maxConnections: 100 });
  if (onDrain) f.addHook('preClose', (done) => void onDrain().then(() => done()));
  await f.listen({ host: '127.0.0.1', port: 0 });
  return { f, port: (f.server.address() as AddressInfo).port, [Symbol.asyncDispose]: () => f.close() };
}

/** The body of an error answer, checked against the registry: the code given, with its status. */
function expectRegistryAnswer(answer: { status: number; body: string }, code: string) {
  const entry = Object.values(API_ERRORS).find((e) => e.code === code);
  expect(entry, code).toBeDefined();
  expect(answer.status, answer.body).toBe(entry!.status);
  expect(JSON.parse(answer.body)).toEqual({ error: expect.any(String), code: entry!.status, error_code: code });
}

describe('API listener answers', () => {
  it.each([
    ['an unknown route', { method: 'GET', target: '/no/such/route' }, 'PUSH_ERR_NOT_FOUND'],
    ['a path with a broken % escape', { method: 'GET', target: '/apps/7/channels/%E0%A4%A' }, 'PUSH_ERR_INVALID_URL'],
    ['an app id over the parameter limit', { method: 'GET', target: `/apps/${'a'.repeat(150)}/channels` }, 'PUSH_ERR_PATH_PARAMETER_TOO_LONG'],
    [
      'a body over 256 KB',
      { method: 'POST', target: '/apps/7/channels', headers: [['Content-Type', 'application/json']], body: Buffer.alloc(300 * 1024, 0x20) },
      'PUSH_ERR_BODY_TOO_LARGE',
    ],
    ['a request line the parser refuses', { method: 'GET /', target: 'x y' }, 'PUSH_ERR_MALFORMED_REQUEST'],
    ['an Expect other than 100-continue', { method: 'GET', target: '/ready', headers: [['Expect', 'x-nothing']] }, 'PUSH_ERR_EXPECTATION_FAILED'],
    ['headers over the parser limit', { method: 'GET', target: '/ready', headers: [['X-Big', 'b'.repeat(20 * 1024)]] }, 'PUSH_ERR_HEADERS_TOO_LARGE'],
  ] as [string, Parameters<typeof sendRawHttp>[1], string][])('%s: %s', async (_name, req, code) => {
    await using api = await startApi();
    expectRegistryAnswer(await sendRawHttp(api.port, req), code);
  });

  it('a request whose body does not arrive in time: PUSH_ERR_REQUEST_TIMEOUT', async () => {
    await using api = await startApi();
    const answer = await sendRawHttp(api.port, {
      method: 'POST',
      target: '/apps/7/channels',
      headers: [['Content-Type', 'application/json']],
      body: Buffer.from('{'),
      contentLength: 100,
    });
    expectRegistryAnswer(answer, 'PUSH_ERR_REQUEST_TIMEOUT');
  });

  it('a request on a kept-alive connection while the server drains: PUSH_ERR_SHUTTING_DOWN', async () => {
    // Runs once the server counts as closing, while the kept-alive connection is still open (idle
    // ones are closed only after the preClose hooks).
    let drainStep = async () => undefined;
    const api = await startApi(() => drainStep());
    const socket = connect(api.port, '127.0.0.1');
    let received = '';
    const answers = (n: number) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if ((received.match(/HTTP\/1\.1 /g) ?? []).length >= n && /\r\n\r\n[^]*\}$/.test(received)) resolve();
          else socket.once('data', (c: Buffer) => ((received += c.toString('latin1')), check()));
        };
        check();
      });
    const request = 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    socket.write(request);
    await answers(1);
    expect(received).toMatch(/^HTTP\/1\.1 200 /);
    received = '';
    drainStep = async () => {
      socket.write(request);
      await answers(1);
    };
    await api.f.close();
    socket.destroy();
    const split = received.indexOf('\r\n\r\n');
    expectRegistryAnswer({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1]), body: received.slice(split + 4) }, 'PUSH_ERR_SHUTTING_DOWN');
  });
});
