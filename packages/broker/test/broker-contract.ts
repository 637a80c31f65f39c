import { describe, expect, it } from 'vitest';
import type { ClusterState, ControlCommand, Publication } from '../src/index.js';

/**
 * One behaviour for every ClusterState implementation: the memory state of the embedded node and
 * the Redis state of clustered mode run the same suite. `make` returns a fresh, isolated state
 * (the Redis one with a unique key prefix).
 */
export function brokerContract(name: string, make: () => Promise<ClusterState>) {
  const withState = async (fn: (s: ClusterState, got: { pubs: Publication[]; ctrl: ControlCommand[] }) => Promise<void>) => {
    const s = await make();
    const got = { pubs: [] as Publication[], ctrl: [] as ControlCommand[] };
    await s.broker.start({ onPublication: (p) => got.pubs.push(p), onControl: (c) => got.ctrl.push(c) });
    try {
      await fn(s, got);
    } finally {
      await s.close();
    }
  };
  const text = (f: string | Uint8Array) => (typeof f === 'string' ? f : Buffer.from(f).toString());

  describe(`${name}: broker contract`, () => {
    it('delivers a publication of a subscribed channel, with its exclusion, as the same bytes', async () => {
      await withState(async (s, got) => {
        await s.broker.subscribe('a1', 'ch');
        await s.broker.publish({ appId: 'a1', channel: 'ch', frame: '{"event":"e","channel":"ch","data":"{\\"x\\":1}"}', exceptSocketId: '1.2' });
        await expect.poll(() => got.pubs.length).toBe(1);
        expect(got.pubs[0]).toMatchObject({ appId: 'a1', channel: 'ch', exceptSocketId: '1.2' });
        expect(text(got.pubs[0]!.frame)).toBe('{"event":"e","channel":"ch","data":"{\\"x\\":1}"}');
      });
    });

    it('delivers control commands', async () => {
      await withState(async (s, got) => {
        await s.broker.publishControl({ kind: 'terminate-user', appId: 'a1', userId: 'u1' });
        await expect.poll(() => got.ctrl).toEqual([{ kind: 'terminate-user', appId: 'a1', userId: 'u1' }]);
      });
    });

    it('counts subscriptions per socket, idempotently, and lists occupied channels by prefix', async () => {
      await withState(async (s) => {
        expect(await s.channels.join('a1', 'presence-x', 's1')).toEqual({ count: 1, added: true });
        expect(await s.channels.join('a1', 'presence-x', 's1')).toEqual({ count: 1, added: false });
        expect(await s.channels.join('a1', 'presence-x', 's2')).toEqual({ count: 2, added: true });
        await s.channels.join('a1', 'other', 's1');
        await s.channels.join('a2', 'presence-x', 's9');
        expect(await s.channels.count('a1', 'presence-x')).toBe(2);
        expect(Object.fromEntries(await s.channels.channels('a1'))).toEqual({ 'presence-x': 2, other: 1 });
        expect(Object.fromEntries(await s.channels.channels('a1', 'presence-'))).toEqual({ 'presence-x': 2 });
        expect(await s.channels.leave('a1', 'presence-x', 's3')).toEqual({ count: 2, removed: false });
        expect(await s.channels.leave('a1', 'presence-x', 's1')).toEqual({ count: 1, removed: true });
        expect(await s.channels.leave('a1', 'presence-x', 's2')).toEqual({ count: 0, removed: true });
        expect(Object.fromEntries(await s.channels.channels('a1'))).toEqual({ other: 1 });
      });
    });

    it('presence: first and last connection per user, member list, user count, limit', async () => {
      await withState(async (s) => {
        expect(await s.presence.add('a1', 'presence-p', 's1', { userId: '10', userInfo: { name: 'A' } })).toEqual({ first: true });
        expect(await s.presence.add('a1', 'presence-p', 's2', { userId: '10', userInfo: { name: 'A' } })).toEqual({ first: false });
        expect(await s.presence.add('a1', 'presence-p', 's2', { userId: '10' })).toEqual({ first: false });
        expect(await s.presence.add('a1', 'presence-p', 's3', { userId: '11' })).toEqual({ first: true });
        expect(await s.presence.userCount('a1', 'presence-p')).toBe(2);
        const members = await s.presence.members('a1', 'presence-p');
        expect(members).toHaveLength(2);
        expect(members).toContainEqual({ userId: '10', userInfo: { name: 'A' } });
        expect(members.find((m) => m.userId === '11')?.userInfo).toBeUndefined();
        expect(await s.presence.wouldExceed('a1', 'presence-p', '12', 2)).toBe(true);
        expect(await s.presence.wouldExceed('a1', 'presence-p', '10', 2)).toBe(false);
        expect(await s.presence.remove('a1', 'presence-p', 's1')).toEqual({ last: false });
        expect(await s.presence.remove('a1', 'presence-p', 's2')).toEqual({ last: true, member: { userId: '10', userInfo: { name: 'A' } } });
        expect(await s.presence.remove('a1', 'presence-p', 's2')).toEqual({ last: false });
        expect(await s.presence.members('a1', 'presence-p')).toEqual([{ userId: '11' }]);
      });
    });

    it('presence channels: join and leave in one step do what the separate stores do', async () => {
      await withState(async (s) => {
        const pc = s.presenceChannels;
        expect(await pc.join('a1', 'presence-q', 's1', { userId: '10', userInfo: { name: 'A' } })).toEqual({
          count: 1,
          added: true,
          first: true,
          members: [{ userId: '10', userInfo: { name: 'A' } }],
        });
        // A second connection of the same user: counted, not a new member.
        const again = await pc.join('a1', 'presence-q', 's2', { userId: '10', userInfo: { name: 'A' } });
        expect(again).toMatchObject({ count: 2, added: true, first: false });
        expect(again.members).toEqual([{ userId: '10', userInfo: { name: 'A' } }]);
        // Idempotent per socket.
        expect(await pc.join('a1', 'presence-q', 's2', { userId: '10' })).toMatchObject({ count: 2, added: false, first: false });
        const third = await pc.join('a1', 'presence-q', 's3', { userId: '11' });
        expect(third).toMatchObject({ count: 3, added: true, first: true });
        expect(third.members).toHaveLength(2);
        expect(third.members).toContainEqual({ userId: '11' });
        // The separate stores see the same state.
        expect(await s.channels.count('a1', 'presence-q')).toBe(3);
        expect(Object.fromEntries(await s.channels.channels('a1', 'presence-q'))).toEqual({ 'presence-q': 3 });
        expect(await s.presence.userCount('a1', 'presence-q')).toBe(2);
        expect(await s.presence.wouldExceed('a1', 'presence-q', '12', 2)).toBe(true);

        expect(await pc.leave('a1', 'presence-q', 's1', '10')).toEqual({ count: 2, removed: true, last: false });
        expect(await pc.leave('a1', 'presence-q', 's2', '10')).toEqual({
          count: 1,
          removed: true,
          last: true,
          member: { userId: '10', userInfo: { name: 'A' } },
        });
        expect(await pc.leave('a1', 'presence-q', 's2', '10')).toEqual({ count: 1, removed: false, last: false });
        expect(await s.presence.members('a1', 'presence-q')).toEqual([{ userId: '11' }]);
        expect(await pc.leave('a1', 'presence-q', 's3', '11')).toEqual({ count: 0, removed: true, last: true, member: { userId: '11' } });
        expect(await s.channels.channels('a1')).toEqual(new Map());
        expect(await s.presence.userCount('a1', 'presence-q')).toBe(0);
      });
    });

    it('presence: the stores publish member_added (not to the joiner) and member_removed once per user', async () => {
      await withState(async (s, got) => {
        await s.broker.subscribe('a1', 'presence-m');
        const events = () => got.pubs.map((p) => ({ except: p.exceptSocketId, ...(JSON.parse(text(p.frame)) as object) }));
        await s.presenceChannels.join('a1', 'presence-m', 's1', { userId: '10', userInfo: { name: 'A' } });
        await s.presenceChannels.join('a1', 'presence-m', 's2', { userId: '10', userInfo: { name: 'A' } });
        await s.presence.add('a1', 'presence-m', 's3', { userId: '11' });
        await s.presenceChannels.leave('a1', 'presence-m', 's1', '10');
        await s.presenceChannels.leave('a1', 'presence-m', 's2', '10');
        await s.presence.remove('a1', 'presence-m', 's3');
        await s.presence.remove('a1', 'presence-m', 's3');
        const added = (channel: string, data: object, except: string) => ({
          except,
          event: 'pusher_internal:member_added',
          channel,
          data: JSON.stringify(data),
        });
        const removed = (channel: string, userId: string) => ({
          except: undefined,
          event: 'pusher_internal:member_removed',
          channel,
          data: JSON.stringify({ user_id: userId }),
        });
        await expect.poll(() => events().length).toBe(4);
        expect(events()).toEqual([
          added('presence-m', { user_id: '10', user_info: { name: 'A' } }, 's1'),
          added('presence-m', { user_id: '11' }, 's3'),
          removed('presence-m', '10'),
          removed('presence-m', '11'),
        ]);
      });
    });

    it('users: signed in while one connection remains, online lookup, transitions versioned in order', async () => {
      await withState(async (s) => {
        const on = await s.users.signin('a1', 'u1', 's1');
        expect(on).toMatchObject({ first: true });
        expect(await s.users.signin('a1', 'u1', 's2')).toEqual({ first: false, version: 0 });
        expect([...(await s.users.online('a1', ['u1', 'u2']))]).toEqual(['u1']);
        expect(await s.users.signout('a1', 'u1', 's1')).toEqual({ last: false, version: 0 });
        const off = await s.users.signout('a1', 'u1', 's2');
        expect(off).toMatchObject({ last: true });
        expect((await s.users.online('a1', ['u1'])).size).toBe(0);
        const back = await s.users.signin('a1', 'u1', 's3');
        expect(back.first).toBe(true);
        expect(on.version).toBeGreaterThan(0);
        expect(off.version).toBeGreaterThan(on.version);
        expect(back.version).toBeGreaterThan(off.version);
      });
    });

    it('cache: keeps the last event with a TTL', async () => {
      await withState(async (s) => {
        expect(await s.cache.get('a1', 'cache-c')).toBeUndefined();
        await s.cache.set('a1', 'cache-c', 'e1', 'd1', 60);
        await s.cache.set('a1', 'cache-c', 'e2', 'd2', 60);
        const c = await s.cache.get('a1', 'cache-c');
        expect(c).toMatchObject({ event: 'e2', data: 'd2' });
        expect(c!.ttl).toBeGreaterThan(55);
        expect(c!.ttl).toBeLessThanOrEqual(60);
      });
    });

    it('is ready once started', async () => {
      await withState(async (s) => {
        expect(s.isReady()).toBe(true);
      });
    });
  });
}
