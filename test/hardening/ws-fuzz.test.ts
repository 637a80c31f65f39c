/**
 * Raw-socket fuzzing of a live gateway: several sockets send random and truncated frames (random
 * bytes as text and as binary, invalid UTF-8, truncated valid frames, huge numbers, deeply nested
 * JSON, unicode, frame-shaped JSON aimed at an observer's channels, oversized frames). Afterwards
 * the gateway must still serve a normal pusher-js client (subscribe, receive an SDK trigger), and
 * an observer's subscriptions must be exactly what they were: REST counts exact, nothing relayed
 * to it, nothing taken from it.
 *
 * The frames come from fast-check with a logged seed: `FUZZ_SEED=<seed>` replays a run.
 */
import fc from 'fast-check';
import { signChannel } from '@herald/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectPusherJs,
  frameArbitrary,
  OBS_ENCRYPTED,
  OBS_PRESENCE,
  OBS_PRIVATE,
  OBS_PUBLIC,
  RawClient,
  startTestGateway,
  subscribeAndWait,
  type TestGateway,
  waitForState,
} from '@herald/test-support';

const SOCKETS = 6;
const FRAMES_PER_SOCKET = 1000;

describe('raw-socket fuzz against a live gateway', () => {
  let t: TestGateway;
  let observer: RawClient;

  beforeAll(async () => {
    t = await startTestGateway();
    observer = await RawClient.established(t);
    expect((await observer.subscribe(OBS_PUBLIC)).event).toBe('pusher_internal:subscription_succeeded');
    for (const channel of [OBS_PRIVATE, OBS_ENCRYPTED]) {
      // (the SDK refuses encrypted channels without a master key: sign directly, same HMAC)
      const auth = signChannel(t.app.key, t.app.secret, observer.socketId, channel);
      expect((await observer.subscribe(channel, { auth })).event).toBe('pusher_internal:subscription_succeeded');
    }
    const p = t.sdk.authorizeChannel(observer.socketId, OBS_PRESENCE, { user_id: 'obs' });
    expect((await observer.subscribe(OBS_PRESENCE, { auth: p.auth, channel_data: p.channel_data })).event).toBe('pusher_internal:subscription_succeeded');
  });
  afterAll(async () => {
    await observer?.[Symbol.asyncDispose]();
    await t?.close();
  });

  const api = async (path: string, params?: Record<string, string>) => (await t.sdk.get({ path, ...(params ? { params } : {}) })).json();
  const exactCounts = {
    channels: {
      [OBS_PUBLIC]: { subscription_count: 1 },
      [OBS_PRIVATE]: { subscription_count: 1 },
      [OBS_ENCRYPTED]: { subscription_count: 1 },
      [OBS_PRESENCE]: { subscription_count: 1 },
    },
  };

  it('random, truncated and hostile frames from several sockets leave the gateway serving and the observer untouched', { timeout: 120_000 }, async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
    console.log(`ws fuzz seed ${seed} (replay with FUZZ_SEED=${seed})`);
    const frames = fc.sample(frameArbitrary(t.app.key), { numRuns: SOCKETS * FRAMES_PER_SOCKET, seed });
    const stats = {
      sent: 0,
      byKind: {} as Record<string, number>,
      closes: {} as Record<string, number>,
      closedBy: {} as Record<string, number>,
      reconnects: 0,
    };
    const open: RawClient[] = [];
    let markers = 0;

    await Promise.all(
      Array.from({ length: SOCKETS }, async (_, i) => {
        let c = await RawClient.established(t);
        for (const f of frames.slice(i * FRAMES_PER_SOCKET, (i + 1) * FRAMES_PER_SOCKET)) {
          if (c.closeCode !== undefined || c.ws.readyState !== c.ws.OPEN) {
            const code = await c.closed;
            stats.closes[code] = (stats.closes[code] ?? 0) + 1;
            stats.reconnects++;
            c = await RawClient.established(t);
          }
          c.ws.send(f.payload, { binary: f.binary });
          stats.sent++;
          stats.byKind[f.kind] = (stats.byKind[f.kind] ?? 0) + 1;
          if (f.kind === 'bytes as text' || f.kind === 'oversized') {
            // These may close the socket: find out before the next frame (a marker subscription
            // succeeds, or the close comes; fuzzed frames never name marker channels).
            const marker = `marker-${++markers}`;
            c.send({ event: 'pusher:subscribe', data: { channel: marker } });
            await Promise.race([c.waitFor((x) => x.channel === marker), c.closed]);
            if (c.closeCode !== undefined) stats.closedBy[f.kind] = (stats.closedBy[f.kind] ?? 0) + 1;
          }
          // Let the server read between frames now and then (and the socket notice a close).
          if (stats.sent % 25 === 0) await new Promise((r) => setImmediate(r));
        }
        // A socket still open after its share must still answer a ping.
        if (c.closeCode === undefined && c.ws.readyState === c.ws.OPEN) {
          const mark = c.frames.length;
          c.send({ event: 'pusher:ping', data: {} });
          const pong = await Promise.race([
            c.waitFor((f) => c.frames.indexOf(f) >= mark && f.event === 'pusher:pong').then(() => 'pong'),
            c.closed.then((code) => `closed ${code}`),
          ]);
          if (pong === 'pong') open.push(c);
          else stats.closes[pong.slice(7)] = (stats.closes[pong.slice(7)] ?? 0) + 1;
        } else {
          const code = await c.closed;
          stats.closes[code] = (stats.closes[code] ?? 0) + 1;
        }
      }),
    );
    console.log('ws fuzz', JSON.stringify(stats));
    // Only the frames that must close a socket did: invalid UTF-8 (1007), oversized (1009), or an
    // abrupt close (1006) for those.
    for (const code of Object.keys(stats.closes)) expect(['1006', '1007', '1009']).toContain(code);
    // ...and nothing else closed one: every close is explained by one of those frames, and every
    // oversized frame closed its socket.
    const total = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
    expect(total(stats.closes)).toBe(total(stats.closedBy));
    expect(stats.closedBy.oversized ?? 0).toBe(stats.byKind.oversized ?? 0);

    // While the fuzzers are still connected: nobody got into the observer's authorised channels.
    expect(await api(`/channels/${OBS_PRESENCE}/users`)).toEqual({ users: [{ id: 'obs' }] });
    for (const ch of [OBS_PRIVATE, OBS_ENCRYPTED, OBS_PRESENCE]) {
      expect(await api(`/channels/${ch}`, { info: 'subscription_count' })).toEqual({ occupied: true, subscription_count: 1 });
    }

    // A normal client is served: pusher-js connects, subscribes, receives an SDK trigger.
    const p = connectPusherJs(t);
    try {
      await waitForState(p, 'connected');
      const ch = await subscribeAndWait(p, 'after-fuzz');
      const got: unknown[] = [];
      ch.bind('evt', (d: unknown) => got.push(d));
      await t.sdk.trigger('after-fuzz', 'evt', { ok: true });
      await expect.poll(() => got).toEqual([{ ok: true }]);
    } finally {
      p.disconnect();
    }

    // The observer: still connected, received nothing from the fuzz, still receives its channels.
    expect(observer.closeCode).toBeUndefined();
    const unexpected = observer.frames.filter(
      (f) => !['pusher:connection_established', 'pusher_internal:subscription_succeeded', 'pusher:pong'].includes(f.event),
    );
    expect(unexpected).toEqual([]);
    await t.sdk.trigger([OBS_PUBLIC, OBS_PRIVATE, OBS_PRESENCE], 'check', { n: 1 });
    await expect
      .poll(() =>
        observer
          .events('check')
          .map((f) => f.channel)
          .sort(),
      )
      .toEqual([OBS_PRESENCE, OBS_PRIVATE, OBS_PUBLIC].sort());

    // Once the fuzzers are gone, the REST counts are exactly the observer's.
    await Promise.all(open.map((c) => c[Symbol.asyncDispose]()));
    await expect.poll(() => api('/channels', { info: 'subscription_count' })).toEqual(exactCounts);
    expect(await api(`/channels/${OBS_PRESENCE}`, { info: 'user_count,subscription_count' })).toEqual({ occupied: true, user_count: 1, subscription_count: 1 });
    const metrics = await (await fetch(`${t.apiUrl}/metrics`)).text();
    expect(Number(/^herald_connections\{[^}]*\} (\d+)/m.exec(metrics)?.[1])).toBe(1);
  });
});
