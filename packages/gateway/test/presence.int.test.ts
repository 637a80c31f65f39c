import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  connectPusherJs,
  expectOpen,
  marker,
  type PusherClient,
  RawClient,
  startAuthServer,
  startTestGateway,
  subscribeAndWait,
  type TestGateway,
  waitForState,
} from '@herald/test-support';

/** Integration tests: presence channels (members, member events, limits, channel_data validation). */

const SUCCEEDED = 'pusher_internal:subscription_succeeded';
const SUB_ERROR = 'pusher:subscription_error';
const ERROR = 'pusher:error';
const ADDED = 'pusher_internal:member_added';
const REMOVED = 'pusher_internal:member_removed';

type Member = { user_id: string | number; user_info?: unknown };
type PresenceHash = { presence: { ids: string[]; hash: Record<string, unknown>; count: number } };
interface Members {
  count: number;
  me: { id: string; info: unknown };
  get(id: string): { id: string; info: unknown } | null;
}

/** Subscribes a raw client to a presence channel, signing the exact channel_data bytes given. */
function subscribeWithData(t: TestGateway, c: RawClient, channel: string, channelData: string) {
  const sig = createHmac('sha256', t.app.secret).update(`${c.socketId}:${channel}:${channelData}`).digest('hex');
  return c.subscribe(channel, { auth: `${t.app.key}:${sig}`, channel_data: channelData });
}

const join = (t: TestGateway, c: RawClient, channel: string, member: Member) => subscribeWithData(t, c, channel, JSON.stringify(member));

async function channelInfo(t: TestGateway, channel: string) {
  const res = await t.sdk.get({ path: `/channels/${channel}`, params: { info: 'user_count,subscription_count' } });
  return (await res.json()) as { occupied: boolean; user_count: number; subscription_count: number };
}

/** pusher-js clients whose presence identity the auth server looks up by socket id. */
async function presenceClients(t: TestGateway) {
  const identities = new Map<string, Member>();
  const auth = await startAuthServer(t.sdk, { presence: ({ socketId }) => identities.get(socketId) as { user_id: string } });
  const clients: PusherClient[] = [];
  const connectAs = async (member: Member) => {
    const c = connectPusherJs(t, { authEndpoint: auth.authEndpoint });
    clients.push(c);
    await waitForState(c, 'connected');
    identities.set(c.connection.socket_id, member);
    return c;
  };
  return {
    connectAs,
    async [Symbol.asyncDispose]() {
      for (const c of clients) c.disconnect();
      await auth.close();
    },
  };
}

describe('presence channels', () => {
  it('two pusher-js users see each other; member_added / member_removed reach the other client', async () => {
    await using t = await startTestGateway();
    await using pc = await presenceClients(t);
    const channel = 'presence-team';
    const alice = await pc.connectAs({ user_id: 'alice', user_info: { name: 'Alice' } });
    const chA = await subscribeAndWait(alice, channel);
    const added: unknown[] = [];
    const removed: unknown[] = [];
    chA.bind('pusher:member_added', (m: unknown) => added.push(m));
    chA.bind('pusher:member_removed', (m: unknown) => removed.push(m));
    const membersA = (chA as unknown as { members: Members }).members;
    expect(membersA.count).toBe(1);

    const bob = await pc.connectAs({ user_id: 'bob', user_info: { name: 'Bob' } });
    const chB = await subscribeAndWait(bob, channel);
    const membersB = (chB as unknown as { members: Members }).members;
    expect(membersB.count).toBe(2);
    expect(membersB.me).toEqual({ id: 'bob', info: { name: 'Bob' } });
    expect(membersB.get('alice')).toEqual({ id: 'alice', info: { name: 'Alice' } });

    await expect.poll(() => added).toEqual([{ id: 'bob', info: { name: 'Bob' } }]);
    expect(membersA.count).toBe(2);
    expect(membersA.me).toEqual({ id: 'alice', info: { name: 'Alice' } });
    expect(membersA.get('bob')).toEqual({ id: 'bob', info: { name: 'Bob' } });
    expect(await channelInfo(t, channel)).toEqual({ occupied: true, user_count: 2, subscription_count: 2 });

    bob.disconnect();
    await expect.poll(() => removed).toEqual([{ id: 'bob', info: { name: 'Bob' } }]);
    expect(membersA.count).toBe(1);
    expect(membersA.get('bob')).toBeNull();
  });

  it('the same user on two connections counts once: member_added on the first, member_removed after the last', async () => {
    await using t = await startTestGateway();
    await using pc = await presenceClients(t);
    const channel = 'presence-dup';
    const alice = await pc.connectAs({ user_id: 'alice' });
    const chA = await subscribeAndWait(alice, channel);
    const events: string[] = [];
    chA.bind('pusher:member_added', (m: { id: string }) => events.push(`added:${m.id}`));
    chA.bind('pusher:member_removed', (m: { id: string }) => events.push(`removed:${m.id}`));
    chA.bind_global((ev: string) => {
      if (ev.startsWith('marker-')) events.push(ev);
    });
    let jsMarkers = 0;
    const markerJs = async () => {
      const name = `marker-js-${++jsMarkers}`;
      await t.sdk.trigger(channel, name, {});
      await expect.poll(() => events.at(-1)).toBe(name);
      return name;
    };
    const members = (chA as unknown as { members: Members }).members;

    const bob1 = await pc.connectAs({ user_id: 'bob', user_info: { tab: 1 } });
    await subscribeAndWait(bob1, channel);
    await expect.poll(() => events).toEqual(['added:bob']);
    const bob2 = await pc.connectAs({ user_id: 'bob', user_info: { tab: 2 } });
    const chB2 = await subscribeAndWait(bob2, channel);
    expect((chB2 as unknown as { members: Members }).members.count).toBe(2);
    const m1 = await markerJs();
    expect(events).toEqual(['added:bob', m1]);
    expect(members.count).toBe(2);
    expect(await channelInfo(t, channel)).toEqual({ occupied: true, user_count: 2, subscription_count: 3 });

    bob1.disconnect();
    await expect.poll(async () => (await channelInfo(t, channel)).subscription_count).toBe(2);
    const m2 = await markerJs();
    expect(events).toEqual(['added:bob', m1, m2]);
    expect(members.count).toBe(2);
    expect((await channelInfo(t, channel)).user_count).toBe(2);

    bob2.disconnect();
    await expect.poll(() => events).toEqual(['added:bob', m1, m2, 'removed:bob']);
    expect(members.count).toBe(1);
  });

  it('a member without user_info appears in the subscription_succeeded hash as null', async () => {
    await using t = await startTestGateway();
    const channel = 'presence-bare';
    await using a = await RawClient.established(t);
    await using b = await RawClient.established(t);
    expect((await join(t, a, channel, { user_id: 'nobody' })).event).toBe(SUCCEEDED);
    const f = await join(t, b, channel, { user_id: 'somebody', user_info: { n: 1 } });
    expect(f.event).toBe(SUCCEEDED);
    expect(typeof f.data).toBe('string');
    const { presence } = JSON.parse(f.data as string) as PresenceHash;
    expect(presence.count).toBe(2);
    expect([...presence.ids].sort()).toEqual(['nobody', 'somebody']);
    expect(Object.prototype.hasOwnProperty.call(presence.hash, 'nobody')).toBe(true);
    expect(presence.hash).toEqual({ nobody: null, somebody: { n: 1 } });
    const added = await a.waitFor((x) => x.event === ADDED);
    expect(added.channel).toBe(channel);
    expect(JSON.parse(added.data as string)).toEqual({ user_id: 'somebody', user_info: { n: 1 } });
  });

  it('a numeric user_id is used in its string form', async () => {
    await using t = await startTestGateway();
    const channel = 'presence-numeric';
    await using a = await RawClient.established(t);
    await using b = await RawClient.established(t);
    await subscribeWithData(t, a, channel, '{"user_id":10}');
    const f = await subscribeWithData(t, b, channel, '{"user_id":"10","user_info":{"again":true}}');
    const { presence } = JSON.parse(f.data as string) as PresenceHash;
    // Same user (10 and "10"): one member, and no member_added for the second connection.
    expect(presence).toEqual({ ids: ['10'], hash: { '10': null }, count: 1 });
    await marker(t, channel, [a]);
    expect(a.events(ADDED)).toEqual([]);
  });

  const badChannelData: [string, string][] = [
    ['no user_id', '{"user_info":{"name":"x"}}'],
    ['an empty user_id', '{"user_id":""}'],
    ['a null user_id', '{"user_id":null}'],
    ['an object user_id', '{"user_id":{"id":1}}'],
    ['a JSON array', '[1,2]'],
    ['text that is not JSON', 'user 7'],
  ];

  it.each(badChannelData)('channel_data with %s is refused (correctly signed)', async (_, channelData) => {
    await using t = await startTestGateway();
    const channel = 'presence-strict';
    await using member = await RawClient.established(t);
    await join(t, member, channel, { user_id: 'ok' });
    await using c = await RawClient.established(t);
    const f = await subscribeWithData(t, c, channel, channelData);
    expect(f.event).toBe(SUB_ERROR);
    expect(f.channel).toBe(channel);
    expect(f.data).toMatchObject({ type: 'AuthError' });
    const err = await c.waitFor((x) => x.event === ERROR);
    expect(err.data).toMatchObject({ code: null });
    const m = await marker(t, channel, [member]);
    expect(member.events(ADDED)).toEqual([]);
    expect(c.events(m)).toEqual([]);
    expect((await channelInfo(t, channel)).user_count).toBe(1);
    await expectOpen(c);
  });

  it('user_info over 1024 bytes is refused; exactly 1024 bytes is accepted', async () => {
    await using t = await startTestGateway();
    const channel = 'presence-sizes';
    const info = (s: string) => ({ s });
    expect(Buffer.byteLength(JSON.stringify(info('x'.repeat(1016))))).toBe(1024);
    await using ok = await RawClient.established(t);
    expect((await join(t, ok, channel, { user_id: 'fits', user_info: info('x'.repeat(1016)) })).event).toBe(SUCCEEDED);
    await using big = await RawClient.established(t);
    const f = await join(t, big, channel, { user_id: 'big', user_info: info('x'.repeat(1017)) });
    expect(f.event).toBe(SUB_ERROR);
    expect(f.data).toMatchObject({ type: 'AuthError' });
    // Bytes, not characters: 600 "é" are 608 characters of JSON but 1208 bytes.
    await using wide = await RawClient.established(t);
    const w = await join(t, wide, channel, { user_id: 'wide', user_info: info('é'.repeat(600)) });
    expect(w.event).toBe(SUB_ERROR);
    expect(
      errors(big)
        .concat(errors(wide))
        .map((e) => e.code),
    ).toEqual([null, null]);
    await marker(t, channel, [ok]);
    expect(ok.events(ADDED)).toEqual([]);
    await expectOpen(big);
  });

  it('maxPresenceMembers 2: a third distinct user gets LimitReached, a present user may add a connection', async () => {
    await using t = await startTestGateway({ apps: [{ maxPresenceMembers: 2 }] });
    const channel = 'presence-small';
    await using u1 = await RawClient.established(t);
    await using u2 = await RawClient.established(t);
    await using u3 = await RawClient.established(t);
    await using u1b = await RawClient.established(t);
    expect((await join(t, u1, channel, { user_id: 'u1' })).event).toBe(SUCCEEDED);
    expect((await join(t, u2, channel, { user_id: 'u2' })).event).toBe(SUCCEEDED);
    const f = await join(t, u3, channel, { user_id: 'u3' });
    expect(f.event).toBe(SUB_ERROR);
    expect(f.channel).toBe(channel);
    expect(f.data).toMatchObject({ type: 'LimitReached' });
    expect(errors(u3).map((e) => e.code)).toEqual([null]);
    const again = await join(t, u1b, channel, { user_id: 'u1' });
    expect(again.event).toBe(SUCCEEDED);
    expect((JSON.parse(again.data as string) as PresenceHash).presence.count).toBe(2);
    await marker(t, channel, [u1, u2]);
    expect(u1.events(ADDED).map((x) => JSON.parse(x.data as string).user_id)).toEqual(['u2']);
    expect(await channelInfo(t, channel)).toEqual({ occupied: true, user_count: 2, subscription_count: 3 });
    await expectOpen(u3);

    // Once a member leaves there is room again.
    u2.close();
    await expect.poll(async () => (await channelInfo(t, channel)).user_count).toBe(1);
    u3.send({ event: 'pusher:subscribe', data: { auth: signed(t, u3, channel, '{"user_id":"u3"}'), channel_data: '{"user_id":"u3"}', channel } });
    await u3.waitFor((x) => x.event === SUCCEEDED && x.channel === channel);
  });

  it('the leaver does not receive its own member_removed', async () => {
    await using t = await startTestGateway();
    const channel = 'presence-leave';
    await using stay = await RawClient.established(t);
    await using leave = await RawClient.established(t);
    await join(t, stay, channel, { user_id: 'stay' });
    await join(t, leave, channel, { user_id: 'leave' });
    await leave.subscribe('side');
    leave.send({ event: 'pusher:unsubscribe', data: { channel } });
    const removed = await stay.waitFor((x) => x.event === REMOVED);
    expect(removed).toEqual({ event: REMOVED, channel, data: '{"user_id":"leave"}' });
    await marker(t, 'side', [leave]);
    expect(leave.events(REMOVED)).toEqual([]);
    expect(stay.events(REMOVED)).toHaveLength(1);
  });

  it('a signed-in connection may join without channel_data: its user id and user_info are used', async () => {
    await using t = await startTestGateway();
    const channel = 'presence-signed';
    await using other = await RawClient.established(t);
    await join(t, other, channel, { user_id: 'other' });
    await using c = await RawClient.established(t);
    // Without sign-in, a valid signature but no channel_data is refused.
    const sig = createHmac('sha256', t.app.secret).update(`${c.socketId}:${channel}`).digest('hex');
    const refused = await c.subscribe(channel, { auth: `${t.app.key}:${sig}` });
    expect(refused.event).toBe(SUB_ERROR);
    c.send({ event: 'pusher:signin', data: t.sdk.authenticateUser(c.socketId, { id: 'signed', user_info: { role: 'admin' } }) });
    await c.waitFor((x) => x.event === 'pusher:signin_success');
    c.send({ event: 'pusher:subscribe', data: { auth: `${t.app.key}:${sig}`, channel } });
    const ok = await c.waitFor((x) => x.event === SUCCEEDED && x.channel === channel);
    expect((JSON.parse(ok.data as string) as PresenceHash).presence.hash).toEqual({ other: null, signed: { role: 'admin' } });
    const added = await other.waitFor((x) => x.event === ADDED);
    expect(JSON.parse(added.data as string)).toEqual({ user_id: 'signed', user_info: { role: 'admin' } });
  });

  it('pusher-js client events on a presence channel carry the sender user_id as metadata', async () => {
    await using t = await startTestGateway();
    await using pc = await presenceClients(t);
    const channel = 'presence-talk';
    const alice = await pc.connectAs({ user_id: 'alice' });
    const bob = await pc.connectAs({ user_id: 'bob' });
    const chA = await subscribeAndWait(alice, channel);
    const chB = await subscribeAndWait(bob, channel);
    const got: unknown[] = [];
    chB.bind('client-hi', (d: unknown, meta: unknown) => got.push([d, meta]));
    expect(chA.trigger('client-hi', { text: 'yo' })).toBe(true);
    await expect.poll(() => got).toEqual([[{ text: 'yo' }, { user_id: 'alice' }]]);
  });
});

function signed(t: TestGateway, c: RawClient, channel: string, channelData: string) {
  return `${t.app.key}:${createHmac('sha256', t.app.secret).update(`${c.socketId}:${channel}:${channelData}`).digest('hex')}`;
}

function errors(c: RawClient) {
  return c.events(ERROR).map((f) => f.data as { code: number | null; message: string });
}
