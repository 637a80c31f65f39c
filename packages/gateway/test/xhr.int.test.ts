import { afterEach, describe, expect, it } from 'vitest';
import {
  connectPusherJs,
  metric,
  presenceUsers,
  sendRawHttp,
  startAuthServer,
  startTestGateway,
  subscribeAndWait,
  waitForState,
  XhrTestClient,
  type PusherClient,
  type TestGateway,
} from '@herald/test-support';

/**
 * pusher-js's HTTP fallbacks on one gateway: an unmodified pusher-js over xhr_streaming and
 * xhr_polling, and the wire (docs/http-fallbacks.md) spoken directly for what pusher-js does not
 * show: CORS, bad input, limits, liveness, and a session as a connection like any other.
 */

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

const base = (t: TestGateway) => `http://127.0.0.1:${t.wsPort}`;

function xhr(t: TestGateway, opts: Partial<ConstructorParameters<typeof XhrTestClient>[0]> = {}) {
  const c = new XhrTestClient({ bases: [base(t)], key: t.app.key, mode: 'stream', ...opts });
  open.push({ close: () => c.stop() });
  return c;
}

function pusher(t: TestGateway, opts: Parameters<typeof connectPusherJs>[1]): PusherClient {
  const c = connectPusherJs(t, opts);
  open.push({ close: () => c.disconnect() });
  return c;
}

describe('pusher-js over HTTP', () => {
  for (const transport of ['xhr_streaming', 'xhr_polling'] as const) {
    it(`${transport}: public, private and presence channels, REST events, client events and members both ways with a WebSocket client`, async () => {
      const t = await startTestGateway();
      open.push(t);
      const auth = await startAuthServer(t.sdk, { presence: ({ socketId }) => ({ user_id: `u-${socketId}`, user_info: { via: socketId } }) });
      open.push(auth);
      const http = pusher(t, { transport, authEndpoint: auth.authEndpoint });
      const ws = pusher(t, { authEndpoint: auth.authEndpoint });
      await Promise.all([waitForState(http, 'connected'), waitForState(ws, 'connected')]);
      expect(await metric(t.apiUrl, 'herald_connections', { transport })).toBe(1);
      expect(await metric(t.apiUrl, 'herald_connections', { transport: 'ws' })).toBe(1);

      const got: string[] = [];
      const pub = await subscribeAndWait(http, 'news');
      pub.bind('ev', (d: { n: number }) => got.push(`news:${d.n}`));
      const priv = await subscribeAndWait(http, 'private-room');
      priv.bind('client-from-ws', (d: { n: number }) => got.push(`client:${d.n}`));
      const wsPriv = await subscribeAndWait(ws, 'private-room');
      const wsGot: number[] = [];
      wsPriv.bind('client-from-http', (d: { n: number }) => wsGot.push(d.n));

      // Presence: each sees the other.
      const wsPresence = await subscribeAndWait(ws, 'presence-lobby');
      const added: string[] = [];
      wsPresence.bind('pusher:member_added', (m: { id: string }) => added.push(m.id));
      const httpPresence = await subscribeAndWait(http, 'presence-lobby');
      const httpId = `u-${http.connection.socket_id}`;
      const wsId = `u-${ws.connection.socket_id}`;
      expect(Object.keys((httpPresence as unknown as { members: { members: object } }).members.members).sort()).toEqual([httpId, wsId].sort());
      await expect.poll(() => added).toEqual([httpId]);
      expect((await presenceUsers(t.apiPort, t.app, 'presence-lobby')).sort()).toEqual([httpId, wsId].sort());

      await t.sdk.trigger('news', 'ev', { n: 1 });
      await t.sdk.trigger('news', 'ev', { n: 2 });
      expect(priv.trigger('client-from-http', { n: 7 })).toBe(true);
      expect(wsPriv.trigger('client-from-ws', { n: 8 })).toBe(true);
      await expect.poll(() => got.sort()).toEqual(['client:8', 'news:1', 'news:2']);
      await expect.poll(() => wsGot).toEqual([7]);
    });
  }
});

describe('streams past 256 KB', () => {
  it('a stream that carried 256 K characters gets nothing more: what follows waits for the next receive request, as pusher-js renews there', async () => {
    const t = await startTestGateway();
    open.push(t);
    const c = xhr(t);
    await c.open();
    expect(await c.send({ event: 'pusher:subscribe', data: { channel: 'bulk' } })).toBe(204);
    await c.waitFor((f) => f.event === 'pusher_internal:subscription_succeeded');
    const pad = 'p'.repeat(1000);
    // About 450 K characters of lines, under the session's buffer bound once the stream is full.
    const n = 420;
    for (let i = 0; i < n; i += 10) {
      await t.sdk.triggerBatch(Array.from({ length: 10 }, (_, k) => ({ channel: 'bulk', name: 'e', data: { i: i + k, pad } })));
    }
    const seqs = () => c.frames.filter((f) => f.event === 'e').map((f) => (JSON.parse(f.data as string) as { i: number }).i);
    await expect.poll(() => c.responseChars[0]).toBeGreaterThan(256 * 1024);
    expect(seqs().length).toBeLessThan(n);
    // The stream stopped at its share: past 256 K characters by less than one batch of lines.
    expect(c.responseChars[0]).toBeLessThan(256 * 1024 + 12 * 1100);
    // The client asks again (pusher-js: buffer_too_long), and gets the rest, once each and in order.
    c.stop();
    c.resume();
    await expect.poll(() => seqs().length).toBe(n);
    expect(seqs()).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(c.lines.filter((l) => l === 'o')).toHaveLength(1);
  });

  it('pusher-js keeps one session and every event across its stream renewals', async () => {
    const t = await startTestGateway();
    open.push(t);
    const c = pusher(t, { transport: 'xhr_streaming' });
    await waitForState(c, 'connected');
    const ch = await subscribeAndWait(c, 'bulk');
    const got: number[] = [];
    ch.bind('e', (d: { i: number }) => got.push(d.i));
    const pad = 'p'.repeat(1000);
    const n = 1200;
    for (let i = 0; i < n; i += 10) {
      await t.sdk.triggerBatch(Array.from({ length: 10 }, (_, k) => ({ channel: 'bulk', name: 'e', data: { i: i + k, pad } })));
    }
    await expect.poll(() => got.length, { timeout: 30_000 }).toBe(n);
    expect(got).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(c.connection.state).toBe('connected');
    expect(await metric(t.apiUrl, 'herald_connections_total', { transport: 'xhr_streaming' })).toBe(1);
  });
});

describe('the HTTP session wire', () => {
  it('answers CORS preflights for a known app, and nothing for an unknown one', async () => {
    const t = await startTestGateway();
    open.push(t);
    const path = `/pusher/app/${t.app.key}/1/abc/xhr_streaming?protocol=7`;
    const pre = await fetch(`${base(t)}${path}`, {
      method: 'OPTIONS',
      headers: { origin: 'https://page.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://page.example');
    expect(pre.headers.get('access-control-allow-credentials')).toBe('true');
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
    expect(pre.headers.get('access-control-allow-headers')).toBe('content-type');
    const unknown = await fetch(`${base(t)}/pusher/app/nope/1/abc/xhr_streaming`, { method: 'OPTIONS', headers: { origin: 'https://page.example' } });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses a session from an origin the app does not allow with 4009, as over a WebSocket, and its sends with 403', async () => {
    const t = await startTestGateway({ apps: [{ allowedOrigins: ['https://ok.example'] }] });
    open.push(t);
    const bad = xhr(t, { origin: 'https://evil.example' });
    await expect(bad.open()).rejects.toThrow(/Origin not allowed/);
    await expect.poll(() => bad.closed?.code).toBe(4009);
    expect(bad.lines[0]).toBe('o');
    expect(await bad.send({ event: 'pusher:ping', data: {} })).toBe(403);
    const good = xhr(t, { origin: 'https://ok.example' });
    await good.open();
    expect(await good.send({ event: 'pusher:ping', data: {} })).toBe(204);
    await good.waitFor((f) => f.event === 'pusher:pong');
  });

  it('answers bad input with its status and leaves the session working', async () => {
    const t = await startTestGateway({ maxPayloadLength: 1024 });
    open.push(t);
    const c = xhr(t);
    await c.open();
    expect(await c.sendRaw('{"not":"an array"}')).toBe(400);
    expect(await c.sendRaw('[1,2]')).toBe(400);
    expect(await c.sendRaw('not json')).toBe(400);
    // A frame the protocol refuses gets its pusher:error, as over a WebSocket.
    expect(await c.sendRaw(JSON.stringify(['{"event":"pusher:subscribe","data":{}}']))).toBe(204);
    await c.waitFor((f) => f.event === 'pusher:error');
    const other = new XhrTestClient({ bases: [base(t)], key: t.app.key, mode: 'stream' });
    expect(await other.send({ event: 'pusher:ping', data: {} })).toBe(404);
    expect((await sendRawHttp(t.wsPort, { method: 'POST', target: `/pusher/app/${t.app.key}/1/x!y/xhr_streaming` })).status).toBe(404);
    expect((await sendRawHttp(t.wsPort, { method: 'POST', target: `/pusher/app/${t.app.key}/1/abc/xhr_bogus` })).status).toBe(404);
    expect(await c.send({ event: 'pusher:ping', data: {} })).toBe(204);
    await c.waitFor((f) => f.event === 'pusher:pong');
    expect(c.closed).toBeUndefined();
    // Over the frame limit: refused (413) and the session closed, as a WebSocket is.
    expect(await c.send({ event: 'client-x', channel: 'private-a', data: 'x'.repeat(2000) })).toBe(413);
    await expect.poll(() => c.closed?.code).toBe(1009);
    expect(await metric(t.apiUrl, 'herald_limit_refusals_total', { limit: 'frame_size' })).toBeGreaterThanOrEqual(1);
  });

  it('refuses an unknown app (4001) and an unsupported protocol (4007) through the session', async () => {
    const t = await startTestGateway();
    open.push(t);
    const unknown = new XhrTestClient({ bases: [base(t)], key: 'no-such-key', mode: 'poll' });
    open.push({ close: () => unknown.stop() });
    await expect(unknown.open()).rejects.toThrow(/4001/);
    await expect.poll(() => unknown.closed?.code).toBe(4001);
    const old = xhr(t, { mode: 'poll', protocol: '3' });
    await expect(old.open()).rejects.toThrow(/4007/);
    await expect.poll(() => old.closed?.code).toBe(4007);
  });

  it('a stream asked again continues the session without a second open line; a poll takes what waited', async () => {
    const t = await startTestGateway();
    open.push(t);
    const c = xhr(t);
    await c.open();
    expect(await c.send({ event: 'pusher:subscribe', data: { channel: 'q' } })).toBe(204);
    await c.waitFor((f) => f.event === 'pusher_internal:subscription_succeeded');
    c.stop();
    await t.sdk.trigger('q', 'while-away', { n: 1 });
    c.resume();
    await c.waitFor((f) => f.event === 'while-away');
    expect(c.lines.filter((l) => l === 'o')).toHaveLength(1);
    expect(c.closed).toBeUndefined();
    // The same session long-polled: events that come while no poll is held wait for the next one.
    c.stop();
    const poll = xhr(t, { mode: 'poll', session: c.session });
    await t.sdk.trigger('q', 'for-the-poll', { n: 2 });
    poll.resume();
    await poll.waitFor((f) => f.event === 'for-the-poll');
    expect(poll.lines).not.toContain('o');
  });

  it('closes a silent session like a silent WebSocket: ping, then 4201', async () => {
    const t = await startTestGateway({ activityTimeout: 1, timers: { pongWaitMs: 500, sweepMs: 200 } });
    open.push(t);
    const c = xhr(t, { answerHeartbeats: false });
    await c.open();
    await c.waitFor((f) => f.event === 'pusher:ping');
    await expect.poll(() => c.closed?.code).toBe(4201);
  });

  it('closes an abandoned session after detachedMs and undoes its subscriptions', async () => {
    const t = await startTestGateway({ xhrTimers: { detachedMs: 400 } });
    open.push(t);
    const c = xhr(t);
    await c.open();
    expect(await c.send({ event: 'pusher:subscribe', data: { channel: 'gone-soon' } })).toBe(204);
    await c.waitFor((f) => f.event === 'pusher_internal:subscription_succeeded');
    expect(await metric(t.apiUrl, 'herald_connections', { transport: 'xhr_streaming' })).toBe(1);
    c.stop();
    await expect.poll(() => metric(t.apiUrl, 'herald_connections', { transport: 'xhr_streaming' })).toBe(0);
    await expect.poll(() => metric(t.apiUrl, 'herald_subscriptions')).toBe(0);
  });

  it('closes a session whose frames nobody takes with 4100 once half the buffer bound waits', async () => {
    const t = await startTestGateway({ maxBackpressure: 64 * 1024 });
    open.push(t);
    const c = xhr(t, { mode: 'poll' });
    await c.open();
    expect(await c.send({ event: 'pusher:subscribe', data: { channel: 'flood' } })).toBe(204);
    await c.waitFor((f) => f.event === 'pusher_internal:subscription_succeeded');
    c.stop();
    // Nobody polls: events wait in the session's buffer until the slow-consumer sweep closes it.
    const big = 'x'.repeat(8000);
    for (let i = 0; i < 12; i++) await t.sdk.trigger('flood', 'e', big);
    await expect.poll(() => metric(t.apiUrl, 'herald_slow_consumers_closed_total')).toBe(1);
  });

  it('counts sessions against the app connection quota', async () => {
    const t = await startTestGateway({ apps: [{ maxConnections: 1 }] });
    open.push(t);
    const first = xhr(t);
    await first.open();
    await expect.poll(() => metric(t.apiUrl, 'herald_connections')).toBe(1);
    const second = xhr(t, { mode: 'poll' });
    await expect(second.open()).rejects.toThrow(/quota/);
    await expect.poll(() => second.closed?.code).toBe(4004);
  });

  it('refuses sessions over the node connection rate with 4100, as WebSockets', async () => {
    const t = await startTestGateway({ maxConnectionsPerSecond: 1 });
    open.push(t);
    const results = await Promise.allSettled([xhr(t).open(), xhr(t).open(), xhr(t).open()]);
    expect(results.filter((r) => r.status === 'rejected').map((r) => String(r.reason))).toEqual(expect.arrayContaining([expect.stringMatching(/4100/)]));
    expect(await metric(t.apiUrl, 'herald_admission_refused_total', { reason: 'rate' })).toBeGreaterThanOrEqual(1);
  });

  it('terminate_connections closes a signed-in HTTP session', async () => {
    const t = await startTestGateway();
    open.push(t);
    const auth = await startAuthServer(t.sdk, { user: () => ({ id: 'http-user' }) });
    open.push(auth);
    const c = pusher(t, { transport: 'xhr_polling', userAuthEndpoint: auth.userAuthEndpoint });
    let userChannelJoined = false;
    c.connection.bind('message', (m: { event: string; channel?: string }) => {
      if (m.event === 'pusher_internal:subscription_succeeded' && m.channel?.startsWith('#server-to-user-')) userChannelJoined = true;
    });
    await waitForState(c, 'connected');
    c.signin();
    await expect.poll(() => userChannelJoined).toBe(true);
    const states: string[] = [];
    c.connection.bind('state_change', (s: { current: string }) => states.push(s.current));
    await t.sdk.terminateUserConnections('http-user');
    // pusher-js treats 4009 as "refused", over HTTP as over a WebSocket: disconnected, no reconnect.
    await expect.poll(() => c.connection.state).toBe('disconnected');
    expect(states).not.toContain('connecting');
    await expect.poll(() => metric(t.apiUrl, 'herald_connections', { transport: 'xhr_polling' })).toBe(0);
  });

  it('recovers missed events over HTTP as over a WebSocket', async () => {
    const t = await startTestGateway({ apps: [{ history: { size: 50, ttlSeconds: 300 } }] });
    open.push(t);
    const c = xhr(t, { mode: 'poll' });
    await c.open();
    expect(await c.send({ event: 'pusher:subscribe', data: { channel: 'hist' } })).toBe(204);
    await c.waitFor((f) => f.event === 'pusher_internal:subscription_succeeded');
    await t.sdk.trigger('hist', 'tick', { seq: 1 });
    const first = (await c.waitFor((f) => f.event === 'tick')) as { position?: string };
    c.stop();
    for (let seq = 2; seq <= 4; seq++) await t.sdk.trigger('hist', 'tick', { seq });
    // A new session (the client reconnected) resubscribes from its last position.
    const again = xhr(t, { mode: 'stream' });
    await again.open();
    expect(await again.send({ event: 'pusher:subscribe', data: { channel: 'hist', position: first.position } })).toBe(204);
    const ok = (await again.waitFor((f) => f.event === 'pusher_internal:subscription_succeeded')) as { recovery?: unknown };
    expect(ok.recovery).toEqual({ recovered: true });
    await expect
      .poll(() => again.frames.filter((f) => f.event === 'tick').map((f) => (JSON.parse(f.data as string) as { seq: number }).seq))
      .toEqual([2, 3, 4]);
  });

  it('tells every session to reconnect (4200) when the gateway drains', async () => {
    const t = await startTestGateway();
    const c = xhr(t);
    await c.open();
    await t.close();
    await expect.poll(() => c.closed?.code).toBe(4200);
  });
});
