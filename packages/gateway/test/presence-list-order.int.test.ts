import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Frame, RawClient, type RedisHandle, startRedis, startTestGateway, type TestGateway, uniquePrefix } from '@herald/test-support';

/**
 * A member list is read over Redis's command connection while member events arrive over its pub/sub
 * connection: an event decided after the list was read can reach the gateway first. A client
 * replaces its list with the one in subscription_succeeded, so without care it loses that member
 * for good. Many users joining one presence channel at once through two gateways make it happen.
 */

/** The member list a client holds after its frames, as pusher-js keeps it. */
function memberList(c: RawClient, channel: string): string[] {
  let members = new Set<string>();
  for (const f of c.frames.filter((x: Frame) => x.channel === channel)) {
    const data = typeof f.data === 'string' ? (JSON.parse(f.data) as Record<string, unknown>) : {};
    if (f.event === 'pusher_internal:subscription_succeeded') members = new Set((data.presence as { ids: string[] }).ids);
    else if (f.event === 'pusher_internal:member_added') members.add(String(data.user_id));
    else if (f.event === 'pusher_internal:member_removed') members.delete(String(data.user_id));
  }
  return [...members].sort();
}

describe('presence member lists under concurrent joins on two gateways', () => {
  let redis: RedisHandle;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('every client ends with every member, round after round', { timeout: 180_000 }, async () => {
    const prefix = uniquePrefix();
    const app = { id: '77', key: `k-${prefix}`, secret: `s-${prefix}-0123456789` };
    await using g0 = await startTestGateway({ apps: [app], redis: { url: redis.url, prefix } });
    await using g1 = await startTestGateway({ apps: [app], redis: { url: redis.url, prefix } });
    const gateways: TestGateway[] = [g0, g1];
    const channel = 'presence-race';
    for (let round = 0; round < 15; round++) {
      const users = Array.from({ length: 10 }, (_, i) => `r${round}-u${i}`);
      const clients = await Promise.all(users.map((_, i) => RawClient.established(gateways[i % 2]!)));
      try {
        // Every subscribe sent at once, half through each gateway.
        clients.forEach((c, i) => {
          const g = gateways[i % 2]!;
          const a = g.sdk.authorizeChannel(c.socketId, channel, { user_id: users[i]! });
          c.send({ event: 'pusher:subscribe', data: { channel, auth: a.auth, channel_data: a.channel_data } });
        });
        const everyone = [...users].sort();
        for (const [i, c] of clients.entries()) {
          await expect.poll(() => memberList(c, channel), { message: `round ${round}, client ${i}` }).toEqual(everyone);
          // What an app sees: no member event before the list, and after it each other user
          // joining once at most, never one the list already held.
          const own = c.frames.filter((f) => f.channel === channel);
          expect(own[0]?.event, `round ${round}, client ${i}`).toBe('pusher_internal:subscription_succeeded');
          const listed = new Set((JSON.parse(own[0]!.data as string) as { presence: { ids: string[] } }).presence.ids);
          const added = own.filter((f) => f.event === 'pusher_internal:member_added').map((f) => (JSON.parse(f.data as string) as { user_id: string }).user_id);
          expect(
            added.filter((u) => listed.has(u)),
            `round ${round}, client ${i}`,
          ).toEqual([]);
          expect(new Set(added).size).toBe(added.length);
        }
      } finally {
        for (const c of clients) await c[Symbol.asyncDispose]();
      }
      // The channel is empty again before the next round.
      await expect
        .poll(async () => Object.keys(((await g0.sdk.get({ path: '/channels' }).then((r) => r.json())) as { channels: object }).channels))
        .toEqual([]);
    }
  });

  // A user's old connection leaves (or a dead gateway's is reaped) while its new one joins through
  // another gateway: the leave's member_removed is decided before the join and recorded while the
  // list is read. The list already holds the user (the new connection), so that event is stale: a
  // client given it would drop itself from its own list. The scale bench found this after a
  // gateway was killed.
  it("a user's new connection keeps itself in its list while its old one leaves elsewhere", { timeout: 180_000 }, async () => {
    const prefix = uniquePrefix();
    const app = { id: '78', key: `k-${prefix}`, secret: `s-${prefix}-0123456789` };
    await using g0 = await startTestGateway({ apps: [app], redis: { url: redis.url, prefix } });
    await using g1 = await startTestGateway({ apps: [app], redis: { url: redis.url, prefix } });
    const channel = 'presence-handover';
    for (let round = 0; round < 20; round++) {
      const users = Array.from({ length: 10 }, (_, i) => `h${round}-u${i}`);
      const subscribe = (c: RawClient, g: TestGateway, user: string) => {
        const a = g.sdk.authorizeChannel(c.socketId, channel, { user_id: user });
        c.send({ event: 'pusher:subscribe', data: { channel, auth: a.auth, channel_data: a.channel_data } });
      };
      const old = await Promise.all(users.map(() => RawClient.established(g0)));
      const fresh = await Promise.all(users.map(() => RawClient.established(g1)));
      // A member who stays, on the new connections' gateway: that gateway is subscribed to the
      // channel already, so the leaves' member_removed reach it while the joins are under way.
      const resident = await RawClient.established(g1);
      try {
        subscribe(resident, g1, `h${round}-resident`);
        await resident.waitFor((f) => f.event === 'pusher_internal:subscription_succeeded');
        old.forEach((c, i) => subscribe(c, g0, users[i]!));
        for (const c of old) await c.waitFor((f) => f.event === 'pusher_internal:subscription_succeeded');
        // Each user's old connection leaves as its new one joins.
        users.forEach((u, i) => {
          subscribe(fresh[i]!, g1, u);
          old[i]!.send({ event: 'pusher:unsubscribe', data: { channel } });
        });
        const everyone = [...users, `h${round}-resident`].sort();
        for (const [i, c] of fresh.entries())
          await expect.poll(() => memberList(c, channel), { message: `round ${round}, user ${users[i]}` }).toEqual(everyone);
      } finally {
        for (const c of [...old, ...fresh, resident]) await c[Symbol.asyncDispose]();
      }
      await expect
        .poll(async () => Object.keys(((await g0.sdk.get({ path: '/channels' }).then((r) => r.json())) as { channels: object }).channels))
        .toEqual([]);
    }
  });
});
