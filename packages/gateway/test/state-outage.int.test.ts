import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Frame, RawClient, type RedisHandle, startRedis, startTestGateway, type TestGateway } from '@herald/test-support';
import { IDLE_QUEUE } from '../src/socket-data.js';

/**
 * While the shared state (Redis) is unreachable a gateway answers only what it knows, and says so:
 * REST queries that need the cluster's state answer 503 (never an empty 200), a presence
 * subscription gets this node's members marked `partial`, a sign-in's watchlist reports only the
 * watched users signed in here (nobody "offline" from nothing), a cache channel sends neither an
 * event nor a miss. Once the state is back, the partial answers are completed.
 */

type Presence = { ids: string[]; hash: Record<string, unknown>; count: number; partial?: boolean };
const presenceOf = (f: Frame) => (JSON.parse(f.data as string) as { presence: Presence }).presence;
const succeeded = (c: RawClient, channel: string) => c.frames.filter((f) => f.event === 'pusher_internal:subscription_succeeded' && f.channel === channel);

function presenceFrame(t: TestGateway, c: RawClient, channel: string, userId: string) {
  const a = t.sdk.authorizeChannel(c.socketId, channel, { user_id: userId, user_info: { name: userId } });
  return { event: 'pusher:subscribe', data: { channel, auth: a.auth, channel_data: a.channel_data } };
}

function signin(t: TestGateway, c: RawClient, id: string, watchlist: string[] = []) {
  c.send({ event: 'pusher:signin', data: t.sdk.authenticateUser(c.socketId, { id, watchlist }) });
  return c.waitFor((f) => f.event === 'pusher:signin_success');
}

const ready = async (t: TestGateway) => (await fetch(`${t.apiUrl}/ready`)).status;

describe('a gateway whose Redis is down', () => {
  let redis: RedisHandle;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('answers REST queries 503, presence and watchlists partially (marked), then completes them when Redis is back', { timeout: 60_000 }, async () => {
    if (!redis.isRunning()) await redis.restart();
    await using t = await startTestGateway({ redis: { url: redis.url } });
    const room = 'presence-room';
    // Before the outage: alice is a member, bob-watched is signed in, a cache channel holds an event.
    await using alice = await RawClient.established(t);
    alice.send(presenceFrame(t, alice, room, 'alice'));
    await alice.waitFor((f) => f.event === 'pusher_internal:subscription_succeeded');
    await using bobClient = await RawClient.established(t);
    await signin(t, bobClient, 'bob');
    await t.sdk.trigger('cache-prices', 'price', { v: 1 });
    expect((await t.sdk.get({ path: `/channels/${room}/users` }).then((r) => r.json())).users).toEqual([{ id: 'alice' }]);

    await redis.kill();
    await expect.poll(() => ready(t), { timeout: 15_000 }).toBe(503);

    // REST: 503 with an error body, never a made-up answer.
    for (const path of [`/channels/${room}/users`, `/channels/${room}`, '/channels']) {
      const err = await t.sdk.get({ path, params: path === '/channels' ? {} : { info: path.endsWith('users') ? undefined : 'subscription_count' } }).then(
        () => undefined,
        (e: { status: number; body: string }) => e,
      );
      expect(err, path).toBeDefined();
      expect(err!.status, path).toBe(503);
      expect(JSON.parse(err!.body), path).toEqual({
        error: 'Cluster state unreachable (Redis): retry shortly',
        code: 503,
        error_code: 'PUSH_ERR_STATE_UNAVAILABLE',
      });
    }

    // A new presence subscription: this node's members (alice and carol herself), marked partial.
    await using carol = await RawClient.established(t);
    carol.send(presenceFrame(t, carol, room, 'carol'));
    const partial = presenceOf(await carol.waitFor((f) => f.event === 'pusher_internal:subscription_succeeded'));
    expect(partial.partial).toBe(true);
    expect(partial.ids.sort()).toEqual(['alice', 'carol']);
    expect(partial.count).toBe(2);

    // A sign-in watching bob (signed in here) and dave (unknown): bob online, nobody offline.
    await using watcher = await RawClient.established(t);
    await signin(t, watcher, 'watcher', ['bob', 'dave']);
    const first = await watcher.waitFor((f) => f.event === 'pusher_internal:watchlist_events');
    expect(JSON.parse(first.data as string)).toEqual({ events: [{ name: 'online', user_ids: ['bob'] }] });

    // A cache channel: neither the cached event nor a miss can be told.
    await using cacheReader = await RawClient.established(t);
    await cacheReader.subscribe('cache-prices');
    cacheReader.send({ event: 'pusher:ping', data: {} });
    await cacheReader.waitFor((f) => f.event === 'pusher:pong');
    expect(cacheReader.frames.map((f) => f.event)).not.toContain('pusher:cache_miss');
    expect(cacheReader.events('price')).toEqual([]);

    // Redis back (empty): the node registers its state again and completes the partial answers.
    await redis.restart();
    await expect.poll(() => ready(t), { timeout: 15_000 }).toBe(200);
    await expect.poll(() => succeeded(carol, room).length, { timeout: 15_000 }).toBe(2);
    const full = presenceOf(succeeded(carol, room)[1]!);
    expect(full.partial).toBeUndefined();
    expect(full.ids.sort()).toEqual(['alice', 'carol']);
    // The full state follows (the re-registration may also announce bob online again: Redis lost it).
    type WatchEvents = { events: { name: string; user_ids: string[] }[] };
    const watchEvents = () => watcher.events('pusher_internal:watchlist_events').map((f) => JSON.parse(f.data as string) as WatchEvents);
    await expect.poll(() => watchEvents().some((e) => e.events.some((x) => x.name === 'offline')), { timeout: 15_000 }).toBe(true);
    expect(watchEvents().find((e) => e.events.some((x) => x.name === 'offline'))).toEqual({
      events: [
        { name: 'online', user_ids: ['bob'] },
        { name: 'offline', user_ids: ['dave'] },
      ],
    });
    // bob was never reported offline.
    expect(
      watchEvents()
        .flatMap((e) => e.events)
        .filter((x) => x.name === 'offline' && x.user_ids.includes('bob')),
    ).toEqual([]);
    // And the REST answers are true again.
    const users = (await t.sdk.get({ path: `/channels/${room}/users` }).then((r) => r.json())) as { users: { id: string }[] };
    expect(users.users.map((u) => u.id).sort()).toEqual(['alice', 'carol']);
    // Alice, who subscribed before the outage, never got a partial list.
    expect(succeeded(alice, room).map((f) => presenceOf(f).partial)).toEqual([undefined]);
    // The completions ran on the sockets' queues, which then went back to the shared settled one.
    const idle = (c: RawClient) => t.gw.sockets.get(c.socketId)?.getUserData().queue === IDLE_QUEUE;
    await expect.poll(() => [carol, watcher].map(idle)).toEqual([true, true]);
  });
});
