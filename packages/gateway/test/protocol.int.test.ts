/**
 * WebSocket protocol handling (docs/reference/protocol.md) against a real gateway: the handshake,
 * the `protocol` query, connection refusals and their close codes, ping/pong in both directions,
 * the server-side inactivity sweep, graceful shutdown, and what /metrics reports afterwards.
 * Raw `ws` clients check the exact frames; the unmodified pusher-js client checks that real
 * clients react to them as the spec says.
 */
import { connect as tcpConnect } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  connectPusherJs,
  expectOpen,
  metric,
  type Frame,
  type PusherClient,
  RawClient,
  rawDataText,
  startTestGateway,
  subscribeAndWait,
  type TestGateway,
  waitForState,
} from '@herald/test-support';

const SOCKET_ID = /^\d+\.\d+$/;

const wsUrl = (t: Pick<TestGateway, 'wsPort'>, path: string) => `ws://127.0.0.1:${t.wsPort}${path}`;

/** A refused connection: exactly one pusher:error frame (data is an object), then close with the same code. */
async function expectRefused(c: RawClient, code: number): Promise<void> {
  expect(await c.closed).toBe(code);
  expect(c.frames).toEqual([{ event: 'pusher:error', data: { code, message: expect.any(String) } }]);
  expect(c.rawFrames[0]).toMatch(new RegExp(`^\\{"event":"pusher:error","data":\\{"code":${code},"message":"[^"]+"\\}\\}$`));
}

const handshake = (f: Frame) => JSON.parse(f.data as string) as { socket_id: string; activity_timeout: number };

/**
 * A WebSocket handshake over a bare TCP socket (the path is sent byte for byte), then every
 * server frame until the server closes the connection.
 */
async function rawUpgrade(port: number, path: Buffer): Promise<{ frames: { opcode: number; payload: Buffer }[] }> {
  const sock = tcpConnect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  sock.on('data', (b: Buffer) => chunks.push(b));
  const ended = new Promise<void>((resolve, reject) => {
    sock.on('close', () => resolve());
    sock.on('error', reject);
  });
  try {
    await new Promise<void>((resolve) => sock.on('connect', resolve));
    sock.write(
      Buffer.concat([
        Buffer.from('GET '),
        path,
        Buffer.from(
          ' HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        ),
      ]),
    );
    await ended;
  } finally {
    sock.destroy();
  }
  const all = Buffer.concat(chunks);
  expect(all.toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
  let at = all.indexOf('\r\n\r\n') + 4;
  const frames: { opcode: number; payload: Buffer }[] = [];
  while (at < all.length) {
    const opcode = all[at]! & 0x0f;
    let len = all[at + 1]! & 0x7f;
    at += 2;
    if (len === 126) {
      len = all.readUInt16BE(at);
      at += 2;
    } else if (len === 127) {
      len = Number(all.readBigUInt64BE(at));
      at += 8;
    }
    frames.push({ opcode, payload: all.subarray(at, at + len) });
    at += len;
  }
  return { frames };
}

/** pusher-js with its state history and connection errors recorded; disconnected on dispose. */
function pusherJs(t: TestGateway, opts: { key?: string } = {}) {
  const client: PusherClient = connectPusherJs(t, opts);
  // The constructor already moved to `connecting`: record from there.
  const states: string[] = [client.connection.state];
  const errors: unknown[] = [];
  client.connection.bind('state_change', (s: { current: string }) => states.push(s.current));
  client.connection.bind('error', (e: unknown) => errors.push(e));
  return { client, states, errors, [Symbol.asyncDispose]: async () => client.disconnect() };
}

/** A client on a short-timer gateway that never says anything: closed 4201 after ping + pong wait. */
async function silentClock(t: TestGateway) {
  return RawClient.established(t);
}

describe('connection_established', () => {
  it('is the first frame, with data a JSON string holding socket_id and activity_timeout 30', async () => {
    await using t = await startTestGateway();
    await using c = await RawClient.established(t);
    const first = c.frames[0]!;
    expect(first.event).toBe('pusher:connection_established');
    expect(typeof first.data).toBe('string');
    expect(Object.keys(first)).toEqual(['event', 'data']);
    const data = handshake(first);
    expect(data).toEqual({ socket_id: expect.stringMatching(SOCKET_ID), activity_timeout: 30 });
    expect(c.socketId).toBe(data.socket_id);
    await expectOpen(c);
  });

  it('announces the configured activity_timeout', async () => {
    await using t = await startTestGateway({ activityTimeout: 7 });
    await using c = await RawClient.established(t);
    expect(handshake(c.frames[0]!).activity_timeout).toBe(7);
  });

  it('gives 50 concurrent connections 50 distinct, well-formed socket ids', async () => {
    await using t = await startTestGateway();
    const clients = await Promise.all(Array.from({ length: 50 }, () => RawClient.established(t)));
    try {
      const ids = clients.map((c) => c.socketId);
      for (const id of ids) expect(id).toMatch(SOCKET_ID);
      expect(new Set(ids).size).toBe(50);
      for (const c of clients) expect(c.frames[0]!.event).toBe('pusher:connection_established');
    } finally {
      await Promise.all(clients.map((c) => c[Symbol.asyncDispose]()));
    }
  });
});

describe('the protocol query parameter', () => {
  it.each([
    ['protocol=7 (pusher-js)', '?protocol=7&client=js&version=8.6.0&flash=false'],
    ['protocol=5 (Java/Android)', '?client=java-client&protocol=5&version=2.4.4'],
    ['protocol=6', '?protocol=6'],
    ['no query string (webman push.js)', ''],
    ['unknown extra parameters', '?protocol=7&client=x&foo=bar&flash=true'],
  ])('accepts %s', async (_name, query) => {
    await using t = await startTestGateway();
    await using c = await RawClient.connect(wsUrl(t, `/app/${t.app.key}${query}`));
    const first = await c.waitFor(() => true);
    expect(first.event).toBe('pusher:connection_established');
    expect(handshake(first).socket_id).toMatch(SOCKET_ID);
    await expectOpen(c);
  });

  it.each(['8', '4', 'abc', '7.0', '-7'])('refuses protocol=%s with pusher:error 4007 then close 4007', async (v) => {
    await using t = await startTestGateway();
    await using c = await RawClient.connect(wsUrl(t, `/app/${t.app.key}?protocol=${v}&client=js&version=8.6.0`));
    await expectRefused(c, 4007);
  });
});

describe('connection refusals', () => {
  it('unknown app key: pusher:error 4001 then close 4001', async () => {
    await using t = await startTestGateway();
    await using c = await RawClient.connect(wsUrl(t, '/app/no-such-key?protocol=7&client=js&version=8.6.0'));
    await expectRefused(c, 4001);
  });

  it('unknown key sent as raw non-ASCII bytes: the close frame is 4001 with a valid UTF-8 reason of at most 123 bytes', async () => {
    // Browsers and `ws` percent-encode the path; a raw client need not. RFC 6455 §5.5.1/§8.1:
    // the close reason is UTF-8, and a client fails the connection (1006/1007 instead of 4001)
    // when it is not.
    await using t = await startTestGateway();
    const { frames } = await rawUpgrade(t.wsPort, Buffer.from(`/app/${'é'.repeat(64)}?protocol=7`, 'utf8'));
    expect(frames.map((f) => f.opcode)).toEqual([0x1, 0x8]);
    expect(JSON.parse(frames[0]!.payload.toString('utf8'))).toEqual({ event: 'pusher:error', data: { code: 4001, message: expect.any(String) } });
    const close = frames[1]!.payload;
    expect(close.readUInt16BE(0)).toBe(4001);
    const reason = close.subarray(2);
    expect(reason.length).toBeLessThanOrEqual(123);
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(reason)).not.toThrow();
  });

  it.each(['/foo', '/', '/app/', '/apps/KEY'])('path %s (not /app/{key}): pusher:error 4005 then close 4005', async (path) => {
    await using t = await startTestGateway();
    await using c = await RawClient.connect(wsUrl(t, `${path.replace('KEY', t.app.key)}?protocol=7`));
    await expectRefused(c, 4005);
  });

  it('disabled app: pusher:error 4003 then close 4003', async () => {
    await using t = await startTestGateway({ apps: [{ enabled: false }] });
    await using c = await RawClient.connect(wsUrl(t, `/app/${t.app.key}?protocol=7`));
    await expectRefused(c, 4003);
  });

  it('app connection quota: the third connection gets 4004, the first two stay open, a freed slot is reusable', async () => {
    await using t = await startTestGateway({ apps: [{ maxConnections: 2 }] });
    await using a = await RawClient.established(t);
    await using b = await RawClient.established(t);
    await using third = await RawClient.connect(wsUrl(t, `/app/${t.app.key}?protocol=7`));
    await expectRefused(third, 4004);
    await expectOpen(a);
    await expectOpen(b);

    a.close();
    await a.closed;
    await expect.poll(() => metric(t.apiUrl, 'herald_connections')).toBe(1);
    await using fourth = await RawClient.established(t);
    expect(fourth.frames[0]!.event).toBe('pusher:connection_established');
    await expectOpen(fourth);
    await expectOpen(b);
  });

  it('app connection quota holds under 6 concurrent connection attempts', async () => {
    await using t = await startTestGateway({ apps: [{ maxConnections: 2 }] });
    const clients = await Promise.all(Array.from({ length: 6 }, () => RawClient.connect(wsUrl(t, `/app/${t.app.key}?protocol=7`))));
    try {
      await Promise.all(clients.map((c) => c.waitFor(() => true)));
      const accepted = clients.filter((c) => c.frames[0]!.event === 'pusher:connection_established');
      const refused = clients.filter((c) => c.frames[0]!.event === 'pusher:error');
      expect(accepted).toHaveLength(2);
      expect(refused).toHaveLength(4);
      for (const c of refused) await expectRefused(c, 4004);
      for (const c of accepted) await expectOpen(c);
    } finally {
      await Promise.all(clients.map((c) => c[Symbol.asyncDispose]()));
    }
  });

  it('a refused connection is not counted against the quota', async () => {
    await using t = await startTestGateway({ apps: [{ maxConnections: 1 }] });
    await using a = await RawClient.established(t);
    for (let i = 0; i < 3; i++) {
      await using r = await RawClient.connect(wsUrl(t, `/app/${t.app.key}?protocol=7`));
      await expectRefused(r, 4004);
    }
    a.close();
    await a.closed;
    await expect.poll(() => metric(t.apiUrl, 'herald_connections')).toBe(0);
    await using b = await RawClient.established(t);
    await expectOpen(b);
  });
});

describe('pusher-js', () => {
  it('connects with a well-formed socket id and never passes through failed/unavailable', async () => {
    await using t = await startTestGateway();
    await using p = pusherJs(t);
    await waitForState(p.client, 'connected');
    expect(p.client.connection.socket_id).toMatch(SOCKET_ID);
    const ch = await subscribeAndWait(p.client, 'pjs-public');
    const got: unknown[] = [];
    ch.bind('hello', (d: unknown) => got.push(d));
    await t.sdk.trigger('pjs-public', 'hello', { n: 1 });
    await expect.poll(() => got).toEqual([{ n: 1 }]);
    expect(p.states).toEqual(['connecting', 'connected']);
    expect(p.errors).toEqual([]);
  });

  it('with an unknown key is refused (4001) and does not reconnect', async () => {
    // Short liveness timers: a silent raw client's 4201 close is a clock that has certainly run
    // past pusher-js's 1 s back-off by the time it fires.
    await using t = await startTestGateway({ activityTimeout: 1, timers: { sweepMs: 200, pongWaitMs: 500 } });
    await using clock = await silentClock(t);
    await using p = pusherJs(t, { key: 'no-such-key' });
    await waitForState(p.client, 'disconnected');
    expect(JSON.stringify(p.errors)).toContain('4001');

    expect(await clock.closed).toBe(4201);
    expect(p.states).toEqual(['connecting', 'disconnected']);
    expect(p.client.connection.state).toBe('disconnected');
    // One refused connection attempt, not a retry loop.
    expect(await metric(t.apiUrl, 'herald_ws_errors_total', { code: '4001' })).toBe(1);
  });
});

describe('ping/pong', () => {
  it('answers {"event":"pusher:ping","data":{}} with exactly {"event":"pusher:pong","data":"{}"}', async () => {
    await using t = await startTestGateway();
    await using c = await RawClient.established(t);
    c.send('{"event":"pusher:ping","data":{}}');
    await c.waitFor((f) => f.event === 'pusher:pong');
    expect(c.rawFrames.slice(1)).toEqual(['{"event":"pusher:pong","data":"{}"}']);
  });

  it('answers the Java form {"event":"pusher:ping"} without data', async () => {
    await using t = await startTestGateway();
    await using c = await RawClient.established(t);
    c.send('{"event": "pusher:ping"}');
    await c.waitFor((f) => f.event === 'pusher:pong');
    expect(c.rawFrames.slice(1)).toEqual(['{"event":"pusher:pong","data":"{}"}']);
  });

  it('answers pings whatever their data (string, null, number), one pong per ping, in order', async () => {
    await using t = await startTestGateway();
    await using c = await RawClient.established(t);
    for (const data of ['{}', null, 1, [], 'x']) c.send({ event: 'pusher:ping', data });
    await expect.poll(() => c.events('pusher:pong').length).toBe(5);
    expect(c.frames.slice(1).map((f) => f.event)).toEqual(Array(5).fill('pusher:pong'));
  });

  it('ignores a client pusher:pong (no reply, no error)', async () => {
    await using t = await startTestGateway();
    await using c = await RawClient.established(t);
    c.send({ event: 'pusher:pong', data: {} });
    c.send({ event: 'pusher:ping', data: {} });
    await c.waitFor((f) => f.event === 'pusher:pong');
    expect(c.frames.slice(1)).toEqual([{ event: 'pusher:pong', data: '{}' }]);
  });
});

// Each test has its own gateway and waits out the activity timeout and a pong wait: side by side.
describe.concurrent('server-side inactivity (activityTimeout 1 s, sweep 200 ms, pong wait 500 ms)', () => {
  const shortTimers = { activityTimeout: 1, timers: { sweepMs: 200, pongWaitMs: 500 } };

  it('pings a silent client with {"event":"pusher:ping","data":"{}"}, then sends pusher:error 4201 and closes 4201', async ({ expect }) => {
    await using t = await startTestGateway(shortTimers);
    await using c = await RawClient.established(t);
    const connectedAt = Date.now();
    await c.waitFor((f) => f.event === 'pusher:ping');
    const pingedAt = Date.now();
    expect(pingedAt - connectedAt).toBeGreaterThanOrEqual(900);
    expect(await c.closed).toBe(4201);
    expect(Date.now() - pingedAt).toBeGreaterThanOrEqual(400);
    expect(c.rawFrames.slice(1)).toEqual([
      '{"event":"pusher:ping","data":"{}"}',
      '{"event":"pusher:error","data":{"code":4201,"message":"Pong reply not received"}}',
    ]);
  });

  it('keeps a client that answers each server ping with pusher:pong', async ({ expect }) => {
    await using t = await startTestGateway(shortTimers);
    await using c = await RawClient.established(t);
    c.ws.on('message', (buf) => {
      if (JSON.parse(rawDataText(buf)).event === 'pusher:ping') c.send({ event: 'pusher:pong', data: {} });
    });
    // A second ping comes only after the first was answered and another idle period passed: the
    // client outlived the 500 ms pong wait of the first one.
    await expect.poll(() => c.events('pusher:ping').length).toBeGreaterThanOrEqual(3);
    expect(c.events('pusher:error')).toEqual([]);
    await expectOpen(c, expect);
  });

  it('never pings or closes a client that keeps sending pusher:ping', async ({ expect }) => {
    await using t = await startTestGateway(shortTimers);
    await using clock = await silentClock(t);
    await using c = await RawClient.established(t);
    const timer = setInterval(() => c.send({ event: 'pusher:ping', data: {} }), 150);
    try {
      // The silent client's 4201 close proves the activity timeout and a pong wait have elapsed.
      expect(await clock.closed).toBe(4201);
    } finally {
      clearInterval(timer);
    }
    expect(c.events('pusher:ping')).toEqual([]);
    expect(c.events('pusher:error')).toEqual([]);
    expect(c.events('pusher:pong').length).toBeGreaterThan(5);
    await expectOpen(c, expect);
  });

  it('counts any frame (not only pings) as activity', async ({ expect }) => {
    await using t = await startTestGateway(shortTimers);
    await using clock = await silentClock(t);
    await using c = await RawClient.established(t);
    let n = 0;
    const timer = setInterval(() => c.send({ event: 'pusher:subscribe', data: { channel: `busy-${n++ % 5}` } }), 150);
    try {
      expect(await clock.closed).toBe(4201);
    } finally {
      clearInterval(timer);
    }
    expect(c.events('pusher:ping')).toEqual([]);
    await expectOpen(c, expect);
  });
});

describe('graceful shutdown', () => {
  it('gw.close() sends pusher:error 4200 and closes 4200; pusher-js treats it as reconnect-now', async () => {
    await using t = await startTestGateway();
    await using raw = await RawClient.established(t);
    await using p = pusherJs(t);
    await waitForState(p.client, 'connected');

    await t.gw.close();

    expect(await raw.closed).toBe(4200);
    expect(raw.frames.slice(1)).toEqual([{ event: 'pusher:error', data: { code: 4200, message: expect.any(String) } }]);
    await expect.poll(() => p.client.connection.state).not.toBe('connected');
    // 4200-4299 is "retry now": pusher-js goes straight back to connecting (never to disconnected/failed).
    expect(p.states.slice(0, 3)).toEqual(['connecting', 'connected', 'connecting']);
    expect(p.states).not.toContain('failed');
    expect(JSON.stringify(p.errors)).toContain('4200');
  });
});

describe('metrics', () => {
  it('herald_connections goes back to 0 after every client closed; refusals are counted by code', async () => {
    await using t = await startTestGateway();
    {
      await using a = await RawClient.established(t);
      await using b = await RawClient.established(t);
      await using p = pusherJs(t);
      await waitForState(p.client, 'connected');
      await using bad = await RawClient.connect(wsUrl(t, '/app/wrong-key?protocol=7'));
      await expectRefused(bad, 4001);
      await using bad2 = await RawClient.connect(wsUrl(t, `/app/${t.app.key}?protocol=9`));
      await expectRefused(bad2, 4007);
      await a.subscribe('metrics-chan');
      await b.subscribe('metrics-chan');
      await expect.poll(() => metric(t.apiUrl, 'herald_connections')).toBe(3);
      expect(await metric(t.apiUrl, 'herald_connections', { app: t.app.id })).toBe(3);
      expect(await metric(t.apiUrl, 'herald_connections_total')).toBe(3);
      expect(await metric(t.apiUrl, 'herald_subscriptions')).toBe(2);
    }
    await expect.poll(() => metric(t.apiUrl, 'herald_connections')).toBe(0);
    await expect.poll(() => metric(t.apiUrl, 'herald_subscriptions')).toBe(0);
    expect(await metric(t.apiUrl, 'herald_ws_errors_total', { code: '4001' })).toBe(1);
    expect(await metric(t.apiUrl, 'herald_ws_errors_total', { code: '4007' })).toBe(1);
    expect(await metric(t.apiUrl, 'herald_connections_total')).toBe(3);
  });
});

describe('native uWebSockets.js', () => {
  it('serves with the native binary and says so in /metrics', async () => {
    await using t = await startTestGateway();
    expect(t.gw.native).toBe(true);
    expect(await metric(t.apiUrl, 'herald_uws_native')).toBe(1);
    const text = await (await fetch(`${t.apiUrl}/metrics`)).text();
    expect(text).toMatch(/^herald_uws_native(\{[^}]*\})? 1$/m);
  });
});
