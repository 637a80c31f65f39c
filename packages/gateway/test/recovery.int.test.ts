import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  connectPusherJs,
  RawClient,
  redisPerFile,
  signedRequest,
  startTestGateway,
  subscribeAndWait,
  waitForState,
  type Frame,
  type TestGateway,
} from '@herald/test-support';
import { disposedAfterEach, offsetOf, rawClient, subscribe, SUCCEEDED, type Positioned } from './recovery-support.js';

/**
 * Message recovery (docs/reference/protocol.md#message-recovery): positions on events, the
 * catch-up of a resubscribing client, failed recoveries, private channels, REST history; embedded
 * and on one Redis. Redis-only matters (restart, bounds, two gateways, Cluster) are in
 * recovery-redis.int.test.ts.
 */

const redisFile = redisPerFile();
const open = disposedAfterEach();

const HISTORY = { size: 50, ttlSeconds: 300 };

async function gateway(mode: 'embedded' | 'redis', app: Record<string, unknown> = {}): Promise<TestGateway> {
  const t = await startTestGateway({
    apps: [{ history: HISTORY, ...app }],
    ...(mode === 'redis' ? { redis: { url: redisFile.redis.url } } : {}),
  });
  open.push(t);
  return t;
}

const client = (t: TestGateway) => rawClient(t, open);

const onChannel = (c: RawClient, channel: string, event = 'tick') => c.frames.filter((f) => f.channel === channel && f.event === event) as Positioned[];
const seqOf = (f: Frame) => (JSON.parse(f.data as string) as { seq: number }).seq;

/** Triggers `tick` with seq from..to-1, one after another. */
async function publish(t: TestGateway, channel: string, from: number, to: number, event = 'tick') {
  for (let seq = from; seq < to; seq++) await t.sdk.trigger(channel, event, { seq });
}

describe.each(['embedded', 'redis'] as const)('message recovery (%s)', (mode) => {
  it('numbers the events of a history channel and leaves other channels as they are', async () => {
    const t = await gateway(mode, { history: { ...HISTORY, channelPrefixes: ['hist-'] } });
    const c = await client(t);
    const sub = await subscribe(c, 'hist-a');
    expect(sub.position).toMatch(/^[0-9a-z]{8,16}:0$/);
    expect(sub.recovery).toBeUndefined();
    const plain = await subscribe(c, 'plain');
    expect(plain.position).toBeUndefined();
    await publish(t, 'hist-a', 0, 3);
    await t.sdk.trigger('plain', 'tick', { seq: 0 });
    await c.waitFor((f) => f.channel === 'plain' && f.event === 'tick');
    await expect.poll(() => onChannel(c, 'hist-a').length).toBe(3);
    const epoch = sub.position!.split(':')[0];
    expect(onChannel(c, 'hist-a').map((f) => f.position)).toEqual([1, 2, 3].map((n) => `${epoch}:${n}`));
    // The frame of a channel without history is byte for byte as before.
    expect(c.rawFrames.find((r) => r.includes('"channel":"plain"') && r.includes('tick'))).toBe('{"event":"tick","channel":"plain","data":"{\\"seq\\":0}"}');
    // A position sent for a channel without history.
    const c2 = await client(t);
    const off = await subscribe(c2, 'plain', { position: sub.position });
    expect(off.recovery).toEqual({ recovered: false, reason: 'history_off' });
  });

  it('replays what a client missed while away, exactly once and in order, then live events', async () => {
    const t = await gateway(mode);
    const a = await client(t);
    const first = await subscribe(a, 'news');
    await publish(t, 'news', 0, 3);
    await expect.poll(() => onChannel(a, 'news').length).toBe(3);
    const last = onChannel(a, 'news').at(-1)!.position!;
    a.close();
    await a.closed;
    await publish(t, 'news', 3, 8);
    const b = await client(t);
    const sub = await subscribe(b, 'news', { position: last });
    expect(sub.recovery).toEqual({ recovered: true });
    expect(sub.position).toBe(`${first.position!.split(':')[0]}:8`);
    await publish(t, 'news', 8, 10);
    await expect.poll(() => onChannel(b, 'news').length).toBe(7);
    expect(onChannel(b, 'news').map(seqOf)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect(onChannel(b, 'news').map((f) => offsetOf(f.position!))).toEqual([4, 5, 6, 7, 8, 9, 10]);
    // The succeeded frame comes before the replay.
    const idx = b.frames.indexOf(b.frames.find((f) => f.event === SUCCEEDED)!);
    expect(b.frames.indexOf(onChannel(b, 'news')[0]!)).toBeGreaterThan(idx);
    // Nothing missed: recovered with nothing to replay.
    const c = await client(t);
    const again = await subscribe(c, 'news', { position: onChannel(b, 'news').at(-1)!.position });
    expect(again.recovery).toEqual({ recovered: true });
    await t.sdk.trigger('news', 'tick', { seq: 10 });
    await c.waitFor((f) => f.event === 'tick');
    expect(onChannel(c, 'news').map(seqOf)).toEqual([10]);
  });

  it('loses nothing and repeats nothing while events keep being published during reconnects', async () => {
    const t = await gateway(mode, { history: { size: 1000, ttlSeconds: 300 } });
    let seq = 0;
    let on = true;
    const pub = (async () => {
      while (on) {
        await t.sdk.trigger('stream', 'tick', { seq: seq++ });
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const sessions: number[][] = [];
    let position: string | undefined;
    for (let i = 0; i < 6; i++) {
      const c = await client(t);
      const sub = await subscribe(c, 'stream', position !== undefined ? { position } : {});
      if (position !== undefined) expect(sub.recovery).toEqual({ recovered: true });
      // Receive a few, then go away mid-stream.
      await c.waitFor(() => onChannel(c, 'stream').length >= 5);
      c.close();
      await c.closed;
      const got = onChannel(c, 'stream');
      sessions.push(got.map(seqOf));
      position = got.at(-1)!.position;
    }
    on = false;
    await pub;
    const total = seq;
    const c = await client(t);
    const sub = await subscribe(c, 'stream', { position });
    expect(sub.recovery).toEqual({ recovered: true });
    const all = () => [...sessions.flat(), ...onChannel(c, 'stream').map(seqOf)];
    await expect.poll(() => all().at(-1)).toBe(total - 1);
    const got = all();
    // From the first event the first session received to the last published: each once, in order.
    expect(got).toEqual(Array.from({ length: total - got[0]! }, (_, i) => got[0]! + i));
  });

  it('tells a client whose position is older than the history that it is too old, and sends no replay', async () => {
    const t = await gateway(mode, { history: { size: 5, ttlSeconds: 300 } });
    const a = await client(t);
    const sub = await subscribe(a, 'news');
    a.close();
    await a.closed;
    await publish(t, 'news', 0, 10);
    const b = await client(t);
    const again = await subscribe(b, 'news', { position: sub.position });
    expect(again.recovery).toEqual({ recovered: false, reason: 'too_old' });
    expect(again.position).toBe(`${sub.position!.split(':')[0]}:10`);
    await t.sdk.trigger('news', 'tick', { seq: 10 });
    await b.waitFor((f) => f.event === 'tick');
    expect(onChannel(b, 'news').map(seqOf)).toEqual([10]);
  });

  it('refuses forged and malformed positions, and never replays another channel', async () => {
    const t = await gateway(mode);
    const a = await client(t);
    const other = await subscribe(a, 'other');
    await publish(t, 'other', 0, 3);
    const mine = await subscribe(a, 'mine');
    await publish(t, 'mine', 0, 2);
    await expect.poll(() => onChannel(a, 'mine').length).toBe(2);
    const epoch = mine.position!.split(':')[0]!;
    let current = 2;
    const cases: [unknown, string[]][] = [
      ['garbage', ['invalid_position']],
      ['', ['invalid_position']],
      [42, ['invalid_position']],
      [{ epoch, offset: 1 }, ['invalid_position']],
      [`${epoch}:-1`, ['invalid_position']],
      [`${epoch}:01`, ['invalid_position']],
      [`${epoch}:99999999999999999999`, ['invalid_position']],
      [`${epoch}:1e3`, ['invalid_position']],
      ['beyond', ['invalid_position']],
      [`${epoch}:9007199254740991`, ['invalid_position']],
      [`${'Z'.repeat(8)}:1`, ['invalid_position']],
      [`${'a'.repeat(17)}:1`, ['invalid_position']],
      [other.position, ['epoch_changed']],
      [`${other.position!.split(':')[0]}:2`, ['epoch_changed']],
      ['zzzzzzzz:0', ['epoch_changed']],
    ];
    for (const [given, reasons] of cases) {
      // An offset beyond the channel's latest event.
      const position = given === 'beyond' ? `${epoch}:${current + 1}` : given;
      const c = await client(t);
      const sub = await subscribe(c, 'mine', { position });
      expect(sub.event, JSON.stringify(position)).toBe(SUCCEEDED);
      expect(reasons, JSON.stringify(position)).toContain(sub.recovery?.reason);
      expect(sub.position).toBe(`${epoch}:${current}`);
      // Nothing replayed: the next frame on the channel is a live one.
      await t.sdk.trigger('mine', 'live', {});
      await c.waitFor((f) => f.event === 'live');
      expect(
        c.frames.filter((f) => f.event === 'tick'),
        JSON.stringify(position),
      ).toEqual([]);
      current++;
      c.close();
    }
  });

  it('replays a private channel only once its authorisation verified', async () => {
    const t = await gateway(mode);
    const a = await client(t);
    const { auth } = t.sdk.authorizeChannel(a.socketId, 'private-room');
    const sub = await subscribe(a, 'private-room', { auth });
    expect(sub.event).toBe(SUCCEEDED);
    a.close();
    await publish(t, 'private-room', 0, 3);
    const bad = await client(t);
    const refused = await subscribe(bad, 'private-room', { auth: `${t.app.key}:${'0'.repeat(64)}`, position: sub.position });
    expect(refused.event).toBe('pusher:subscription_error');
    const good = await client(t);
    const forOther = t.sdk.authorizeChannel(bad.socketId, 'private-room').auth;
    // A signature for another socket is refused the same way.
    const stolen = await subscribe(good, 'private-room', { auth: forOther, position: sub.position });
    expect(stolen.event).toBe('pusher:subscription_error');
    const ok = await subscribe(good, 'private-room', { auth: t.sdk.authorizeChannel(good.socketId, 'private-room').auth, position: sub.position });
    expect(ok.recovery).toEqual({ recovered: true });
    await expect.poll(() => onChannel(good, 'private-room').length).toBe(3);
    await t.sdk.trigger('private-room', 'live', {});
    await bad.waitFor((f) => f.event === 'pusher:error');
    expect(bad.frames.filter((f) => f.event === 'tick' || f.event === 'live')).toEqual([]);
  });

  it('numbers client events and presence channels, and replays them', async () => {
    const t = await gateway(mode);
    const a = await client(t);
    const b = await client(t);
    const join = (c: RawClient, user: string, extra: Record<string, unknown> = {}) => {
      const x = t.sdk.authorizeChannel(c.socketId, 'presence-room', { user_id: user });
      return subscribe(c, 'presence-room', { auth: x.auth, channel_data: x.channel_data, ...extra });
    };
    const sa = await join(a, 'ann');
    expect(sa.position).toMatch(/:0$/);
    expect(JSON.parse(sa.data as string)).toMatchObject({ presence: { ids: ['ann'] } });
    await join(b, 'bob');
    a.send({ event: 'client-typing', channel: 'presence-room', data: { seq: 0 } });
    await b.waitFor((f) => f.event === 'client-typing');
    const ct = b.frames.find((f) => f.event === 'client-typing') as Positioned;
    expect(ct.user_id).toBe('ann');
    expect(ct.position).toMatch(/:1$/);
    expect(b.rawFrames.find((r) => r.includes('client-typing'))).toMatch(/"user_id":"ann","position":"[0-9a-z]+:1"}$/);
    b.close();
    await t.sdk.trigger('presence-room', 'tick', { seq: 1 });
    const c = await client(t);
    const sc = await join(c, 'bob', { position: ct.position });
    expect(sc.recovery).toEqual({ recovered: true });
    expect(JSON.parse(sc.data as string)).toMatchObject({ presence: { count: 2 } });
    await c.waitFor((f) => f.event === 'tick');
    expect(onChannel(c, 'presence-room').map(seqOf)).toEqual([1]);
  });

  it('pages the history over REST, oldest or newest first, after a position', async () => {
    const t = await gateway(mode);
    const c = await client(t);
    const sub = await subscribe(c, 'feed');
    const epoch = sub.position!.split(':')[0];
    await publish(t, 'feed', 0, 7);
    const path = `/apps/${t.app.id}/channels/feed/history`;
    const get = async (params: Record<string, string>) => {
      const r = await signedRequest(t.apiPort, t.app, { method: 'GET', path, params });
      return {
        status: r.status,
        body: JSON.parse(r.body) as {
          events: { event: string; data: string; position: string; published_at: number }[];
          position: string;
          error_code?: string;
        },
      };
    };
    const page1 = await get({ limit: '3' });
    expect(page1.status).toBe(200);
    expect(page1.body.position).toBe(`${epoch}:7`);
    expect(page1.body.events.map((e) => e.position)).toEqual([1, 2, 3].map((n) => `${epoch}:${n}`));
    expect(page1.body.events[0]).toMatchObject({ event: 'tick', data: '{"seq":0}' });
    expect(typeof page1.body.events[0]!.published_at).toBe('number');
    const page2 = await get({ limit: '3', since: page1.body.events.at(-1)!.position });
    expect(page2.body.events.map((e) => seqOf(e as unknown as Frame))).toEqual([3, 4, 5]);
    const newest = await get({ limit: '2', direction: 'backward' });
    expect(newest.body.events.map((e) => offsetOf(e.position))).toEqual([7, 6]);
    const all = await get({});
    expect(all.body.events).toHaveLength(7);
    expect((await get({ since: 'zzzzzzzz:1' })).body.error_code).toBe('PUSH_ERR_HISTORY_POSITION_LOST');
    expect((await get({ since: 'nope' })).status).toBe(400);
    expect((await get({ since: `${epoch}:8` })).status).toBe(400);
    expect((await get({ limit: '0' })).status).toBe(400);
    expect((await get({ limit: '1001' })).status).toBe(400);
    expect((await get({ direction: 'sideways' })).status).toBe(400);
    const off = await startTestGateway({ ...(mode === 'redis' ? { redis: { url: redisFile.redis.url } } : {}) });
    open.push(off);
    const r = await signedRequest(off.apiPort, off.app, { method: 'GET', path: `/apps/${off.app.id}/channels/feed/history` });
    expect(JSON.parse(r.body)).toMatchObject({ error_code: 'PUSH_ERR_HISTORY_OFF' });
    // Unsigned: refused like every other API route.
    const unsigned = await signedRequest(t.apiPort, { ...t.app, secret: randomBytes(16).toString('hex') }, { method: 'GET', path });
    expect(unsigned.status).toBe(401);
  });

  it('serves an unmodified pusher-js on a history channel as before', async () => {
    const t = await gateway(mode);
    const client = connectPusherJs(t);
    try {
      await waitForState(client, 'connected');
      const ch = await subscribeAndWait(client, 'news');
      const got: unknown[] = [];
      ch.bind('tick', (d: unknown) => got.push(d));
      await publish(t, 'news', 0, 3);
      await expect.poll(() => got).toEqual([{ seq: 0 }, { seq: 1 }, { seq: 2 }]);
    } finally {
      client.disconnect();
    }
  });
});
