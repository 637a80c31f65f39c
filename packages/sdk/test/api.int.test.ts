import { createServer as createHttpServer, type Server } from 'node:http';
import { createConnection, createServer as createTcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { Api } from '../src/api.js';
import { HeraldApiError, HeraldApiErrorCode } from '../src/errors.js';
import type { ApiOptions } from '../src/options.js';
import { freePort, RawClient, startTestGateway, type TestGateway } from '@herald/test-support';

/**
 * Integration tests: the SDK against a real gateway (in-process, free ports, random credentials),
 * delivery observed on raw WebSocket subscribers.
 */

const SUCCEEDED = 'pusher_internal:subscription_succeeded';
const MASTER_B64 = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';

function apiFor(t: TestGateway, opts: Partial<ApiOptions> = {}, url = t.apiUrl): Api & AsyncDisposable {
  return new Api(url, t.app.key, t.app.secret, { appId: t.app.id, ...opts });
}

async function subscribed(t: TestGateway, channel: string, api?: Api, presence?: { user_id: string; user_info?: unknown }): Promise<RawClient> {
  const c = await RawClient.established(t);
  const extra = api && !channel.startsWith('#') && /^(private|presence)-/.test(channel) ? api.authorizeChannel(c.socketId, channel, presence) : {};
  const f = await c.subscribe(channel, { ...extra });
  expect(f.event, JSON.stringify(f)).toBe(SUCCEEDED);
  return c;
}

async function signedIn(t: TestGateway, api: Api, id: string): Promise<RawClient> {
  const c = await RawClient.established(t);
  c.send({ event: 'pusher:signin', data: api.authenticateUser(c.socketId, { id }) });
  await c.waitFor((f) => f.event === 'pusher:signin_success');
  // The server joins the user channel itself; wait for it so that sendToUser cannot race it.
  await c.waitFor((f) => f.event === SUCCEEDED && f.channel === `#server-to-user-${id}`);
  return c;
}

/** The promise's rejection, asserted to be a HeraldApiError. */
async function failure(p: Promise<unknown>): Promise<HeraldApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HeraldApiError);
  return err as HeraldApiError;
}

/** A TCP pass-through in front of the gateway that counts the connections it accepts. */
async function countingProxy(targetPort: number, opts: { onData?: (conn: number, requests: number, client: Socket) => boolean } = {}) {
  const open = new Set<Socket>();
  let connections = 0;
  const server = createTcpServer((client) => {
    const n = ++connections;
    let requests = 0;
    open.add(client);
    const upstream = createConnection(targetPort, '127.0.0.1');
    client.on('data', (buf: Buffer) => {
      if (/^(GET|POST) \//.test(buf.toString('latin1', 0, 8))) requests++;
      // onData may kill the connection instead of forwarding (a server closing an idle keep-alive).
      if (opts.onData && !opts.onData(n, requests, client)) return;
      upstream.write(buf);
    });
    upstream.pipe(client);
    const end = () => {
      open.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    client.on('error', end);
    upstream.on('close', end);
    upstream.on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const close = () => {
    for (const s of open) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  };
  return { url: `http://127.0.0.1:${port}`, connections: () => connections, openConnections: () => open.size, close, [Symbol.asyncDispose]: close };
}

describe('trigger', () => {
  it('delivers to a subscriber byte for byte: objects JSON-encoded once, strings as-is, encode: always', async () => {
    await using t = await startTestGateway();
    await using api = apiFor(t);
    await using c = await subscribed(t, 'orders');
    const payload = { id: 1, text: 'é ✓ 🎉 </script> "quoted"', nested: { a: [1, null, true] } };
    await expect(api.trigger('orders', 'created', payload)).resolves.toEqual({});
    await expect(api.trigger(['orders'], 'raw', '  not json, kept as-is  ')).resolves.toEqual({});
    await api.trigger('orders', 'webman', 'hi', { encode: 'always' });
    await c.waitFor((f) => f.event === 'webman');
    const frames = c.rawFrames.filter((r) => !r.includes('pusher'));
    expect(frames).toEqual([
      JSON.stringify({ event: 'created', channel: 'orders', data: JSON.stringify(payload) }),
      JSON.stringify({ event: 'raw', channel: 'orders', data: '  not json, kept as-is  ' }),
      JSON.stringify({ event: 'webman', channel: 'orders', data: '"hi"' }),
    ]);
  });

  it('delivers once per subscribed channel to several channels, including a private one it authorized', async () => {
    await using t = await startTestGateway();
    await using api = apiFor(t);
    await using pub = await subscribed(t, 'room-1');
    await using priv = await subscribed(t, 'private-room-2', api);
    await api.trigger(['room-1', 'private-room-2'], 'ping', { n: 1 });
    await pub.waitFor((f) => f.event === 'ping');
    await priv.waitFor((f) => f.event === 'ping');
    expect(pub.events('ping').map((f) => f.channel)).toEqual(['room-1']);
    expect(priv.events('ping').map((f) => f.channel)).toEqual(['private-room-2']);
  });

  it('socket_id exclusion: the excluded connection does not receive the event, the others do', async () => {
    await using t = await startTestGateway();
    await using api = apiFor(t);
    await using sender = await subscribed(t, 'chat');
    await using other = await subscribed(t, 'chat');
    await api.trigger('chat', 'message', 'hello', { socketId: sender.socketId });
    await api.trigger('chat', 'marker', 'm');
    await other.waitFor((f) => f.event === 'marker');
    await sender.waitFor((f) => f.event === 'marker');
    // Per-channel order holds: had `message` reached the sender, it would precede the marker.
    expect(other.events('message')).toHaveLength(1);
    expect(sender.events('message')).toHaveLength(0);
  });

  it('returns the info attributes per channel', async () => {
    await using t = await startTestGateway();
    await using api = apiFor(t);
    await using a = await subscribed(t, 'orders');
    await using b = await subscribed(t, 'orders');
    await using p = await subscribed(t, 'presence-room', api, { user_id: 'u1', user_info: { name: 'Ann' } });
    const r = await api.trigger(['orders', 'presence-room'], 'ev', 'x', { info: ['user_count', 'subscription_count'] });
    expect(r).toEqual({ channels: { orders: { subscription_count: 2 }, 'presence-room': { user_count: 1, subscription_count: 1 } } });
    expect(await api.trigger('orders', 'ev', 'x', { info: 'subscription_count' })).toEqual({ channels: { orders: { subscription_count: 2 } } });
  });

  it('encrypts for a private-encrypted- channel; the subscriber decrypts with the shared_secret it was given', async () => {
    await using t = await startTestGateway();
    await using api = apiFor(t, { encryptionMasterKeyBase64: MASTER_B64 });
    const c = await RawClient.established(t);
    await using _c = c;
    const authz = api.authorizeChannel(c.socketId, 'private-encrypted-vault');
    const { shared_secret: secret, ...frameAuth } = authz;
    expect((await c.subscribe('private-encrypted-vault', frameAuth)).event).toBe(SUCCEEDED);
    await api.trigger('private-encrypted-vault', 'secret', { code: 42 });
    const f = await c.waitFor((x) => x.event === 'secret');
    const env = JSON.parse(f.data as string) as { nonce: string; ciphertext: string };
    const plain = nacl.secretbox.open(Buffer.from(env.ciphertext, 'base64'), Buffer.from(env.nonce, 'base64'), Buffer.from(secret!, 'base64'));
    expect(Buffer.from(plain!).toString()).toBe('{"code":42}');
  });
});

describe('triggerBatch', () => {
  it('publishes every item and answers info per item', async () => {
    await using t = await startTestGateway();
    await using api = apiFor(t);
    await using c = await subscribed(t, 'orders');
    await using p = await subscribed(t, 'presence-room', api, { user_id: 'u1' });
    expect(await api.triggerBatch([{ channel: 'orders', name: 'a', data: { x: 1 } }])).toEqual({});
    const r = await api.triggerBatch([
      { channel: 'orders', name: 'b', data: 'plain', info: ['subscription_count'] },
      { channel: 'presence-room', name: 'c', data: { y: 2 }, info: ['user_count'] },
      { channel: 'orders', name: 'd', data: 'excluded', socketId: c.socketId },
    ]);
    expect(r).toEqual({ batch: [{ subscription_count: 1 }, { user_count: 1 }, {}] });
    await c.waitFor((f) => f.event === 'b');
    await p.waitFor((f) => f.event === 'c');
    expect(c.frames.filter((f) => !f.event.startsWith('pusher')).map((f) => [f.event, f.data])).toEqual([
      ['a', '{"x":1}'],
      ['b', 'plain'],
    ]);
    expect(p.events('c')[0]!.data).toBe('{"y":2}');
  });
});

describe('channels, channel, users', () => {
  it('reports occupied channels, one channel and presence users', async () => {
    await using t = await startTestGateway();
    await using api = apiFor(t);
    await using a = await subscribed(t, 'orders');
    await using p1 = await subscribed(t, 'presence-room', api, { user_id: 'u1' });
    await using p2 = await subscribed(t, 'presence-room', api, { user_id: 'u2', user_info: { n: 2 } });
    await using p3 = await subscribed(t, 'presence-room', api, { user_id: 'u2' });

    expect(await api.channels()).toEqual({ channels: { orders: {}, 'presence-room': {} } });
    expect(await api.channels({ prefix: 'presence-', info: ['user_count'] })).toEqual({ channels: { 'presence-room': { user_count: 2 } } });
    expect(await api.channels({ prefix: 'nothing-' })).toEqual({ channels: {} });
    expect(await api.channel('presence-room', { info: ['user_count', 'subscription_count'] })).toEqual({
      occupied: true,
      user_count: 2,
      subscription_count: 3,
    });
    expect(await api.channel('orders')).toEqual({ occupied: true });
    expect(await api.channel('empty-channel', { info: 'subscription_count' })).toEqual({ occupied: false, subscription_count: 0 });
    expect((await api.users('presence-room')).map((u) => u.id).sort()).toEqual(['u1', 'u2']);
    expect(await api.users('presence-nobody')).toEqual([]);
  });

  it('channel names with = @ , ; travel unescaped and verify', async () => {
    await using t = await startTestGateway();
    await using api = apiFor(t);
    await using p = await subscribed(t, 'presence-a=b@c,d;e', api, { user_id: 'x' });
    expect(await api.users('presence-a=b@c,d;e')).toEqual([{ id: 'x' }]);
  });
});

describe('users: sign-in, sendToUser, terminate', () => {
  it('sendToUser reaches every connection signed in as the user, and only those', async () => {
    await using t = await startTestGateway();
    await using api = apiFor(t);
    await using u1 = await signedIn(t, api, 'user-1');
    await using u1b = await signedIn(t, api, 'user-1');
    await using u2 = await signedIn(t, api, 'user-2');
    await api.sendToUser('user-1', 'notice', { n: 1 });
    await api.sendToUser('user-2', 'marker', 'm');
    for (const c of [u1, u1b]) expect((await c.waitFor((f) => f.event === 'notice')).data).toBe('{"n":1}');
    await u2.waitFor((f) => f.event === 'marker');
    expect(u2.events('notice')).toHaveLength(0);
  });

  it('terminateUserConnections closes the signed-in connections of that user with 4009', async () => {
    await using t = await startTestGateway();
    await using api = apiFor(t);
    await using victim = await signedIn(t, api, 'user-1');
    await using bystander = await signedIn(t, api, 'user-2');
    await expect(api.terminateUserConnections('user-1')).resolves.toEqual({});
    expect(await victim.closed).toBe(4009);
    await api.sendToUser('user-2', 'still-here', 'x');
    await bystander.waitFor((f) => f.event === 'still-here');
    expect(bystander.closeCode).toBeUndefined();
    await expect(api.terminateUserConnections('nobody')).resolves.toEqual({});
  });
});

describe('errors', () => {
  it('wrong secret: 401 with the server body verbatim', async () => {
    await using t = await startTestGateway();
    await using api = new Api(t.apiUrl, t.app.key, 'wrong-secret', { appId: t.app.id });
    const err = await failure(api.trigger('orders', 'ev', 'x'));
    expect(err.code).toBe(HeraldApiErrorCode.HttpStatus);
    expect(err.status).toBe(401);
    expect(JSON.parse(err.body)).toMatchObject({
      code: 401,
      error_code: 'PUSH_ERR_INVALID_SIGNATURE',
      error: expect.stringMatching(/^Invalid signature: you should have sent HmacSHA256Hex\(/),
    });
    expect(err.message).toContain('401');
    expect(err.message).not.toContain('wrong-secret');
  });

  it('unknown key: 400 Unknown auth_key', async () => {
    await using t = await startTestGateway();
    await using api = new Api(t.apiUrl, 'not-a-key', t.app.secret, { appId: t.app.id });
    const err = await failure(api.channels());
    expect([err.status, JSON.parse(err.body).error]).toEqual([400, 'Unknown auth_key']);
  });

  it('a server-side rule the SDK does not duplicate: 400 with the body', async () => {
    await using t = await startTestGateway();
    await using api = apiFor(t);
    const err = await failure(api.channels({ info: 'user_count' }));
    expect(err.status).toBe(400);
    expect(err.body).toContain('user_count is only available for presence channels');
  });

  it('413 when the data is over the server limit (lower than the SDK default here)', async () => {
    await using t = await startTestGateway({ apps: [{ maxEventPayloadBytes: 100 }] });
    await using api = apiFor(t);
    const err = await failure(api.trigger('orders', 'ev', 'x'.repeat(101)));
    expect(err.status).toBe(413);
    expect(JSON.parse(err.body)).toEqual({ error: 'Event data too large (max 100 bytes)', code: 413, error_code: 'PUSH_ERR_PAYLOAD_TOO_LARGE' });
    await expect(api.trigger('orders', 'ev', 'x'.repeat(100))).resolves.toEqual({});
  });

  it('over the SDK limit: refused before sending, status 0', async () => {
    await using t = await startTestGateway();
    await using api = apiFor(t);
    const err = await failure(api.trigger('orders', 'ev', 'x'.repeat(10_241)));
    expect([err.code, err.status]).toEqual([HeraldApiErrorCode.InvalidArgument, 0]);
  });

  it('a closed port: network error, status 0, the socket error as cause', async () => {
    const port = await freePort();
    await using api = new Api(`http://127.0.0.1:${port}`, 'k', 's', { appId: '1' });
    const err = await failure(api.trigger('orders', 'ev', 'x'));
    expect([err.code, err.status, err.body]).toEqual([HeraldApiErrorCode.Network, 0, '']);
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });

  it('a server that never answers: timeout error after timeoutMs', async () => {
    const hanging: Server = createHttpServer(() => {
      /* never responds */
    });
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    try {
      const port = (hanging.address() as AddressInfo).port;
      await using api = new Api(`http://127.0.0.1:${port}`, 'k', 's', { appId: '1', timeoutMs: 300 });
      const started = Date.now();
      const err = await failure(api.trigger('orders', 'ev', 'x'));
      const elapsed = Date.now() - started;
      expect([err.code, err.status]).toEqual([HeraldApiErrorCode.Timeout, 0]);
      expect(err.message).toMatch(/timed out after 300 ms/);
      expect(elapsed).toBeGreaterThanOrEqual(290);
      // generous for a busy machine; fetch's own default (300 s headers timeout) would still fail it
      expect(elapsed).toBeLessThan(10_000);
    } finally {
      hanging.closeAllConnections();
      await new Promise<void>((r) => hanging.close(() => r()));
    }
  });
});

describe('connections', () => {
  it('keep-alive: 50 sequential triggers share one TCP connection; close() releases it', async () => {
    await using t = await startTestGateway();
    await using proxy = await countingProxy(t.apiPort);
    await using c = await subscribed(t, 'orders');
    const api = apiFor(t, {}, proxy.url);
    for (let i = 0; i < 50; i++) await api.trigger('orders', 'n', String(i));
    await c.waitFor((f) => f.event === 'n' && f.data === '49');
    expect(c.events('n').map((f) => f.data)).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
    expect(proxy.connections()).toBe(1);
    expect(proxy.openConnections()).toBe(1);
    await api.close();
    await expect.poll(() => proxy.openConnections()).toBe(0);
  });

  it('keepAlive: false opens one connection per request', async () => {
    await using t = await startTestGateway();
    await using proxy = await countingProxy(t.apiPort);
    await using api = apiFor(t, { keepAlive: false }, proxy.url);
    for (let i = 0; i < 5; i++) await api.trigger('orders', 'n', String(i));
    expect(proxy.connections()).toBe(5);
  });

  it('a kept-alive connection the server dropped is retried once on a new one, without duplicates', async () => {
    await using t = await startTestGateway();
    // The first connection dies when its second request arrives: what a server closing an idle
    // keep-alive socket looks like from the client.
    await using proxy = await countingProxy(t.apiPort, {
      onData: (conn, requests, client) => {
        if (conn === 1 && requests > 1) {
          client.destroy();
          return false;
        }
        return true;
      },
    });
    await using c = await subscribed(t, 'orders');
    await using api = apiFor(t, {}, proxy.url);
    await api.trigger('orders', 'n', 'first');
    await expect(api.trigger('orders', 'n', 'second')).resolves.toEqual({});
    await api.trigger('orders', 'n', 'third');
    await c.waitFor((f) => f.event === 'n' && f.data === 'third');
    expect(c.events('n').map((f) => f.data)).toEqual(['first', 'second', 'third']);
    expect(proxy.connections()).toBe(2);
  });
});
