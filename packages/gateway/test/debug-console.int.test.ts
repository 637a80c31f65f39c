/**
 * The debug console's records as a gateway makes them, from real clients (pusher-js and raw `ws`)
 * and REST triggers by the `pusher` SDK: every kind with its fields, nothing secret in any of them,
 * and nothing recorded once the console is closed. Embedded, and clustered on a real Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { DebugRecord } from '@herald/broker';
import {
  connectPusherJs,
  RawClient,
  startAuthServer,
  startRedis,
  startTestGateway,
  subscribeAndWait,
  waitForState,
  type RedisHandle,
  type TestGateway,
} from '@herald/test-support';

const recorder = () => {
  const records: DebugRecord[] = [];
  const skipped: number[] = [];
  return { records, skipped, console: { record: (r: DebugRecord) => records.push(r), skipped: (n: number) => skipped.push(n) } };
};
type Recorder = ReturnType<typeof recorder>;

/** Waits for a record matching `pred` and returns it. */
async function recorded<K extends DebugRecord['kind']>(
  r: Recorder,
  kind: K,
  pred: (x: Extract<DebugRecord, { kind: K }>) => boolean = () => true,
): Promise<Extract<DebugRecord, { kind: K }>> {
  const find = () => r.records.find((x): x is Extract<DebugRecord, { kind: K }> => x.kind === kind && pred(x as Extract<DebugRecord, { kind: K }>));
  await expect.poll(() => find() !== undefined, { message: `a ${kind} record` }).toBe(true);
  return find()!;
}

/** Opens a console and returns once a record reaches it (clustered, the Redis subscription is then active). */
async function openConsole(t: TestGateway): Promise<{ r: Recorder; close: () => void }> {
  const r = recorder();
  const close = t.gw.debug.open(t.app.id, r.console);
  await expect
    .poll(() => {
      t.gw.debug.emit(t.app.id, { kind: 'unsubscribed', socketId: 'probe', channel: 'probe' });
      return r.records.length;
    })
    .toBeGreaterThan(0);
  return { r, close };
}

const modes: [string, boolean][] = [
  ['embedded', false],
  ['clustered (Redis)', true],
];

describe.each(modes)('debug console records, %s', (_, clustered) => {
  let redis: RedisHandle | undefined;
  beforeAll(async () => {
    if (clustered) redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('every kind of record, with its fields, and nothing secret in any of them', async () => {
    await using t = await startTestGateway({ apps: [{ maxChannelsPerConnection: 3 }], ...(redis ? { redis: { url: redis.url } } : {}) });
    await using auth = await startAuthServer(t.sdk, { presence: ({ socketId }) => ({ user_id: `u-${socketId}`, user_info: { name: 'SECRET-USER-INFO' } }) });
    const appId = t.app.id;
    expect(t.gw.debug.watching(appId)).toBe(false);
    const { r, close } = await openConsole(t);
    expect(t.gw.debug.watching(appId)).toBe(true);
    const node = 'test-node';

    // pusher-js: connection, private and presence subscriptions, a client event, an unsubscription.
    const js = connectPusherJs(t, { authEndpoint: auth.authEndpoint });
    await waitForState(js, 'connected');
    const jsId = js.connection.socket_id;
    try {
      expect(await recorded(r, 'connection_opened', (x) => x.socketId === jsId)).toMatchObject({ transport: 'ws', node, at: expect.any(Number) as number });
      const priv = await subscribeAndWait(js, 'private-room');
      expect(await recorded(r, 'subscribed', (x) => x.socketId === jsId && x.channel === 'private-room')).not.toHaveProperty('userId');
      await subscribeAndWait(js, 'presence-room');
      expect(await recorded(r, 'subscribed', (x) => x.channel === 'presence-room')).toMatchObject({ socketId: jsId, userId: `u-${jsId}` });
      priv.trigger('client-typing', { text: 'x'.repeat(1500) });
      const ce = await recorded(r, 'client_event', (x) => x.socketId === jsId);
      expect(ce).toMatchObject({ channel: 'private-room', event: 'client-typing', node });
      expect(ce.size).toBe(JSON.stringify({ text: 'x'.repeat(1500) }).length);
      expect(ce.data).toBe(JSON.stringify({ text: 'x'.repeat(1500) }).slice(0, 1000));
      expect(ce).not.toHaveProperty('userId');

      // REST triggers through the SDK: single (with an excluded socket) and batch.
      await t.sdk.trigger(['news', 'sport'], 'headline', { title: 'hello' }, { socket_id: jsId });
      expect(await recorded(r, 'api_event', (x) => x.event === 'headline')).toMatchObject({
        channels: ['news', 'sport'],
        size: JSON.stringify({ title: 'hello' }).length,
        data: JSON.stringify({ title: 'hello' }),
        excludedSocketId: jsId,
        node,
      });
      await t.sdk.triggerBatch([
        { channel: 'a', name: 'b1', data: 'one' },
        { channel: 'b', name: 'b2', data: 'two' },
      ]);
      expect(await recorded(r, 'api_event', (x) => x.event === 'b2')).toMatchObject({ channels: ['b'], data: 'two', size: 3 });
      expect((await recorded(r, 'api_event', (x) => x.event === 'b1')).excludedSocketId).toBeUndefined();

      js.unsubscribe('private-room');
      expect(await recorded(r, 'unsubscribed', (x) => x.socketId === jsId)).toMatchObject({ channel: 'private-room' });
    } finally {
      js.disconnect();
    }
    expect(await recorded(r, 'connection_closed', (x) => x.socketId === jsId)).toMatchObject({
      code: expect.any(Number) as number,
      reason: expect.any(String) as string,
    });

    // A raw client with an Origin header, and failures: bad signatures, a bad channel name, the limit.
    const ws = new WebSocket(`ws://127.0.0.1:${t.wsPort}/app/${t.app.key}?protocol=7`, { origin: 'https://shop.example' });
    const raw = await (async () => {
      const frames: { event: string; data?: unknown }[] = [];
      ws.on('message', (b: Buffer) => frames.push(JSON.parse(b.toString()) as { event: string; data?: unknown }));
      await expect.poll(() => frames.some((f) => f.event === 'pusher:connection_established')).toBe(true);
      const est = frames.find((f) => f.event === 'pusher:connection_established')!;
      return { frames, socketId: (JSON.parse(est.data as string) as { socket_id: string }).socket_id };
    })();
    expect(await recorded(r, 'connection_opened', (x) => x.socketId === raw.socketId)).toMatchObject({ origin: 'https://shop.example', transport: 'ws' });

    const badSignature = `${t.app.key}:${'ab'.repeat(32)}`;
    const channelData = JSON.stringify({ user_id: 'CHANNEL-DATA-USER', user_info: { token: 'CHANNEL-DATA-SECRET' } });
    const send = (f: unknown) => ws.send(JSON.stringify(f));
    send({ event: 'pusher:subscribe', data: { channel: 'private-a', auth: badSignature } });
    send({ event: 'pusher:subscribe', data: { channel: 'presence-a', auth: badSignature, channel_data: channelData } });
    send({ event: 'pusher:subscribe', data: { channel: 'bad name!' } });
    for (const c of ['p1', 'p2', 'p3', 'p4']) send({ event: 'pusher:subscribe', data: { channel: c } });
    const sig = await recorded(r, 'subscription_failed', (x) => x.channel === 'private-a');
    expect(sig).toMatchObject({ socketId: raw.socketId, code: 401, reason: 'Invalid signature' });
    expect(await recorded(r, 'subscription_failed', (x) => x.channel === 'presence-a')).toMatchObject({ reason: 'Invalid signature' });
    expect((await recorded(r, 'subscription_failed', (x) => x.channel === 'bad name!')).reason).toMatch(/Invalid channel name/);
    expect((await recorded(r, 'subscription_failed', (x) => x.channel === 'p4')).reason).toMatch(/limit reached/i);

    // Errors sent: a client event where none is allowed, a sign-in with a bad signature.
    send({ event: 'client-nope', channel: 'p1', data: {} });
    expect(await recorded(r, 'error_sent', (x) => x.socketId === raw.socketId && /private and presence/.test(x.message))).toMatchObject({
      code: null,
    });
    const userData = JSON.stringify({ id: 'USER-DATA-ID', user_info: { secret: 'USER-DATA-SECRET' } });
    send({ event: 'pusher:signin', data: { auth: badSignature, user_data: userData } });
    expect(await recorded(r, 'error_sent', (x) => x.socketId === raw.socketId && x.message.startsWith('Invalid signature'))).toMatchObject({
      message: 'Invalid signature',
    });
    ws.close(4000, 'bye now');
    expect(await recorded(r, 'connection_closed', (x) => x.socketId === raw.socketId)).toMatchObject({ code: 4000, reason: 'bye now' });

    // Nothing secret anywhere: the secret, any signature (valid ones the auth server made included), channel_data, user_data.
    const all = JSON.stringify(r.records);
    const validPrivate = t.sdk.authorizeChannel(jsId, 'private-room').auth;
    const validPresence = t.sdk.authorizeChannel(jsId, 'presence-room', { user_id: `u-${jsId}`, user_info: { name: 'SECRET-USER-INFO' } });
    for (const secret of [
      t.app.secret,
      badSignature.split(':')[1]!,
      validPrivate.split(':')[1]!,
      validPresence.auth.split(':')[1]!,
      'SECRET-USER-INFO',
      'CHANNEL-DATA',
      'USER-DATA',
      'HMAC',
    ]) {
      expect(all).not.toContain(secret);
    }
    expect(r.skipped).toEqual([]);

    // Closed: the flag clears, and nothing more is recorded.
    close();
    await expect.poll(() => t.gw.debug.watching(appId)).toBe(false);
    const count = r.records.length;
    await using late = await RawClient.established(t);
    await late.subscribe('after');
    await t.sdk.trigger('after', 'ev', 'x');
    late.close();
    await late.closed;
    expect(r.records.length).toBe(count);
  });
});
