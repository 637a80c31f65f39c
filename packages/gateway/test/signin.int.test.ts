import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  connectPusherJs,
  expectOpen,
  type PusherClient,
  RawClient,
  startAuthServer,
  startTestGateway,
  type TestGateway,
  waitForState,
} from '@herald/test-support';

/** Integration tests: user sign-in, #server-to-user- channels, terminate_connections, watchlists. */

const SUCCEEDED = 'pusher_internal:subscription_succeeded';
const SUB_ERROR = 'pusher:subscription_error';
const ERROR = 'pusher:error';
const WATCHLIST = 'pusher_internal:watchlist_events';

type ErrorData = { code: number | null; message: string };
type WatchEvent = { name: 'online' | 'offline'; user_ids: string[] };

const errors = (c: RawClient) => c.events(ERROR).map((f) => f.data as ErrorData);
const watchlistEvents = (c: RawClient) => c.events(WATCHLIST).flatMap((f) => (JSON.parse(f.data as string) as { events: WatchEvent[] }).events);

/** Signs a raw client in with a valid signature (the official SDK's authenticateUser). */
async function signin(t: TestGateway, c: RawClient, user: { id: string; user_info?: unknown; watchlist?: string[] }) {
  const before = c.events('pusher:signin_success').length;
  c.send({ event: 'pusher:signin', data: t.sdk.authenticateUser(c.socketId, user) });
  await expect.poll(() => c.events('pusher:signin_success').length).toBe(before + 1);
  // The server joins the user channel itself; wait for that so that sendToUser cannot race it.
  await c.waitFor((f) => f.event === SUCCEEDED && f.channel === `#server-to-user-${user.id}`);
}

/** A pusher-js client signed in through the auth server; resolves once its user channel is joined. */
async function signedInJs(t: TestGateway, userAuthEndpoint: string): Promise<{ client: PusherClient; signinData: unknown[] }> {
  const client = connectPusherJs(t, { userAuthEndpoint });
  const signinData: unknown[] = [];
  client.bind('pusher:signin_success', (d: unknown) => signinData.push(d));
  let userChannelJoined = false;
  client.connection.bind('message', (m: { event: string; channel?: string }) => {
    if (m.event === SUCCEEDED && m.channel?.startsWith('#server-to-user-')) userChannelJoined = true;
  });
  await waitForState(client, 'connected');
  client.signin();
  await expect.poll(() => userChannelJoined).toBe(true);
  return { client, signinData };
}

describe('user sign-in', () => {
  it('pusher-js signin() gets pusher:signin_success with the signed user_data', async () => {
    await using t = await startTestGateway();
    await using auth = await startAuthServer(t.sdk, { user: () => ({ id: 'alice', user_info: { name: 'Alice' } }) });
    const { client, signinData } = await signedInJs(t, auth.userAuthEndpoint);
    try {
      expect(signinData).toHaveLength(1);
      const sent = auth.requests.find((r) => r.get('socket_id') === client.connection.socket_id);
      expect(sent).toBeDefined();
      const d = signinData[0] as { user_data: string };
      expect(typeof d.user_data).toBe('string');
      expect(JSON.parse(d.user_data)).toEqual({ id: 'alice', user_info: { name: 'Alice' } });
      expect((client.user as unknown as { user_data: unknown }).user_data).toEqual({ id: 'alice', user_info: { name: 'Alice' } });
    } finally {
      client.disconnect();
    }
  });

  it("sendToUser reaches every connection of that user through client.user.bind, and no one else's", async () => {
    await using t = await startTestGateway();
    await using aliceAuth = await startAuthServer(t.sdk, { user: () => ({ id: 'alice' }) });
    await using bobAuth = await startAuthServer(t.sdk, { user: () => ({ id: 'bob' }) });
    const a1 = await signedInJs(t, aliceAuth.userAuthEndpoint);
    const a2 = await signedInJs(t, aliceAuth.userAuthEndpoint);
    const b = await signedInJs(t, bobAuth.userAuthEndpoint);
    try {
      const got: Record<string, unknown[]> = { a1: [], a2: [], b: [] };
      for (const [name, c] of [
        ['a1', a1.client],
        ['a2', a2.client],
        ['b', b.client],
      ] as const) {
        c.user.bind('notice', (d: unknown) => got[name]!.push(d));
        c.user.bind('marker', () => got[name]!.push('marker'));
      }
      await t.sdk.sendToUser('alice', 'notice', { text: 'for alice' });
      await t.sdk.sendToUser('bob', 'marker', {});
      await expect.poll(() => got.a1).toEqual([{ text: 'for alice' }]);
      await expect.poll(() => got.a2).toEqual([{ text: 'for alice' }]);
      await expect.poll(() => got.b).toEqual(['marker']);
    } finally {
      a1.client.disconnect();
      a2.client.disconnect();
      b.client.disconnect();
    }
  });

  it('an email-style user id works end to end (sign-in, user channel, sendToUser)', async () => {
    await using t = await startTestGateway();
    const id = 'user@example.com';
    await using auth = await startAuthServer(t.sdk, { user: () => ({ id }) });
    const { client } = await signedInJs(t, auth.userAuthEndpoint);
    try {
      const got: unknown[] = [];
      client.user.bind('hello', (d: unknown) => got.push(d));
      await t.sdk.sendToUser(id, 'hello', { to: id });
      await expect.poll(() => got).toEqual([{ to: id }]);
    } finally {
      client.disconnect();
    }
  });

  // pusher-js and the Node SDK accept any non-empty string id (Auth0 ids look like `auth0|…`), while
  // the gateway only allows the channel-name characters in `#server-to-user-<id>`. Whichever rule is
  // chosen, a sign-in must be either refused (4009) or fully usable; never "signed in" with a user
  // channel that is answered both subscription_succeeded and subscription_error and that the HTTP
  // API refuses.
  it('a user id outside the channel-name characters is either refused at sign-in or fully usable', async () => {
    await using t = await startTestGateway();
    const id = 'auth0|5f7c8ec7c33c6c004bbafe82';
    await using auth = await startAuthServer(t.sdk, { user: () => ({ id }) });
    const client = connectPusherJs(t, { userAuthEndpoint: auth.userAuthEndpoint });
    try {
      const frames: { event: string; channel?: string; data: unknown }[] = [];
      client.connection.bind('message', (m: { event: string; channel?: string; data: unknown }) => frames.push(m));
      const got: unknown[] = [];
      client.user.bind('hello', (d: unknown) => got.push(d));
      await waitForState(client, 'connected');
      client.signin();
      await expect.poll(() => frames.some((f) => f.event === 'pusher:signin_success' || f.event === ERROR)).toBe(true);
      if (!frames.some((f) => f.event === 'pusher:signin_success')) {
        // Refused: a 4009 error, and no user channel was joined.
        expect(frames.find((f) => f.event === ERROR)!.data).toMatchObject({ code: 4009 });
        expect(frames.filter((f) => f.channel !== undefined)).toEqual([]);
        return;
      }
      // Accepted: the server's own join and the answer to pusher-js's explicit subscribe, both successes.
      const userChannel = () => frames.filter((f) => f.channel === `#server-to-user-${id}`);
      await expect.poll(() => userChannel().length).toBeGreaterThanOrEqual(2);
      expect(
        userChannel()
          .filter((m) => m.event === SUB_ERROR)
          .map((m) => (m.data as { error: string }).error),
      ).toEqual([]);
      await t.sdk.sendToUser(id, 'hello', { to: id });
      await expect.poll(() => got).toEqual([{ to: id }]);
    } finally {
      client.disconnect();
    }
  });

  it("a raw client cannot subscribe to another user's #server-to-user- channel", async () => {
    await using t = await startTestGateway();
    await using bob = await RawClient.established(t);
    await signin(t, bob, { id: 'bob' });
    const f = await bob.subscribe('#server-to-user-alice');
    expect(f.event).toBe(SUB_ERROR);
    expect(f.channel).toBe('#server-to-user-alice');
    expect(f.data).toMatchObject({ type: 'AuthError' });
    expect(errors(bob).map((e) => e.code)).toEqual([null]);
    // Its own channel is fine (an explicit subscribe, as pusher-js sends it, is answered).
    bob.send({ event: 'pusher:subscribe', data: { auth: '', channel: '#server-to-user-bob' } });
    await expect.poll(() => bob.events(SUCCEEDED).filter((x) => x.channel === '#server-to-user-bob').length).toBe(2);
    await t.sdk.sendToUser('alice', 'private-note', 'for alice only');
    await t.sdk.sendToUser('bob', 'marker', '1');
    await bob.waitFor((x) => x.event === 'marker' && x.channel === '#server-to-user-bob');
    expect(bob.events('private-note')).toEqual([]);
    await expectOpen(bob);
  });

  it('a raw client cannot subscribe to its own #server-to-user- channel before signing in', async () => {
    await using t = await startTestGateway();
    await using c = await RawClient.established(t);
    const f = await c.subscribe('#server-to-user-carol');
    expect(f.event).toBe(SUB_ERROR);
    expect(f.data).toMatchObject({ type: 'AuthError' });
    await t.sdk.sendToUser('carol', 'early', 'x');
    await signin(t, c, { id: 'carol' });
    await t.sdk.sendToUser('carol', 'late', 'y');
    await c.waitFor((x) => x.event === 'late');
    expect(c.events('early')).toEqual([]);
    expect(c.events('late')).toEqual([{ event: 'late', channel: '#server-to-user-carol', data: 'y' }]);
  });

  const badSignins: [string, (t: TestGateway, socketId: string) => Record<string, unknown>][] = [
    ['a wrong signature', (t) => ({ auth: `${t.app.key}:${'cd'.repeat(32)}`, user_data: '{"id":"mallory"}' })],
    [
      'a wrong key',
      (t, s) => ({ ...t.sdk.authenticateUser(s, { id: 'mallory' }), auth: `other-key:${t.sdk.authenticateUser(s, { id: 'mallory' }).auth.split(':')[1]}` }),
    ],
    ['tampered user_data', (t, s) => ({ auth: t.sdk.authenticateUser(s, { id: 'mallory' }).auth, user_data: '{"id":"admin"}' })],
    ["another socket's signature", (t) => t.sdk.authenticateUser('1.1', { id: 'mallory' })],
    ['no auth', () => ({ user_data: '{"id":"mallory"}' })],
    [
      'the channel-style signature string',
      (t, s) => ({ auth: `${t.app.key}:${createHmac('sha256', t.app.secret).update(`${s}:{"id":"mallory"}`).digest('hex')}`, user_data: '{"id":"mallory"}' }),
    ],
  ];

  it.each(badSignins)('%s: pusher:error 4009 and the socket stays open', async (_, make) => {
    await using t = await startTestGateway();
    await using c = await RawClient.established(t);
    c.send({ event: 'pusher:signin', data: make(t, c.socketId) });
    const err = await c.waitFor((f) => f.event === ERROR);
    expect((err.data as ErrorData).code).toBe(4009);
    expect(c.events('pusher:signin_success')).toEqual([]);
    await expectOpen(c);
    // Not signed in: sendToUser does not reach it, and a correct sign-in still works afterwards.
    await t.sdk.sendToUser('mallory', 'leak', 'x');
    await signin(t, c, { id: 'mallory' });
    await t.sdk.sendToUser('mallory', 'after', 'y');
    await c.waitFor((f) => f.event === 'after');
    expect(c.events('leak')).toEqual([]);
    expect(c.closeCode).toBeUndefined();
  });

  it('signing in again as the same user succeeds; as another user fails with 4009', async () => {
    await using t = await startTestGateway();
    await using c = await RawClient.established(t);
    await signin(t, c, { id: 'dave' });
    c.send({ event: 'pusher:signin', data: t.sdk.authenticateUser(c.socketId, { id: 'dave' }) });
    await expect.poll(() => c.events('pusher:signin_success').length).toBe(2);
    c.send({ event: 'pusher:signin', data: t.sdk.authenticateUser(c.socketId, { id: 'eve' }) });
    await expect.poll(() => errors(c).map((e) => e.code)).toEqual([4009]);
    await t.sdk.sendToUser('eve', 'for-eve', 'x');
    await t.sdk.sendToUser('dave', 'for-dave', 'y');
    await c.waitFor((f) => f.event === 'for-dave');
    expect(c.events('for-eve')).toEqual([]);
    await expectOpen(c);
  });
});

describe('terminate_connections', () => {
  it("closes every connection of the user with 4009; other users' connections stay open", async () => {
    await using t = await startTestGateway();
    await using v1 = await RawClient.established(t);
    await using v2 = await RawClient.established(t);
    await using bystander = await RawClient.established(t);
    await using presenceOnly = await RawClient.established(t);
    await signin(t, v1, { id: 'victim' });
    await signin(t, v2, { id: 'victim' });
    await signin(t, bystander, { id: 'bystander' });
    // Joined a presence channel as "victim" without signing in: not a signed-in connection of the user.
    const pres = t.sdk.authorizeChannel(presenceOnly.socketId, 'presence-x', { user_id: 'victim' });
    expect((await presenceOnly.subscribe('presence-x', { ...pres })).event).toBe(SUCCEEDED);
    await using auth = await startAuthServer(t.sdk, { user: () => ({ id: 'victim' }) });
    const js = await signedInJs(t, auth.userAuthEndpoint);
    try {
      const states: string[] = [];
      js.client.connection.bind('state_change', (s: { current: string }) => states.push(s.current));

      await t.sdk.terminateUserConnections('victim');
      for (const v of [v1, v2]) {
        expect(await v.closed).toBe(4009);
        const last = v.frames.at(-1)!;
        expect(last.event).toBe(ERROR);
        expect((last.data as ErrorData).code).toBe(4009);
      }
      // pusher-js treats 4009 as "refused": it ends disconnected and does not reconnect by itself.
      await expect.poll(() => js.client.connection.state).toBe('disconnected');
      expect(states).not.toContain('connecting');
      await expectOpen(bystander);
      await expectOpen(presenceOnly);
      await t.sdk.sendToUser('bystander', 'still-here', 'x');
      await bystander.waitFor((f) => f.event === 'still-here');
    } finally {
      js.client.disconnect();
    }
  });
});

describe('watchlists', () => {
  it('pusher-js: offline at sign-in, online when the watched user signs in, offline when it leaves', async () => {
    await using t = await startTestGateway();
    await using authA = await startAuthServer(t.sdk, { user: () => ({ id: 'wa', watchlist: ['wb'] }) });
    await using authB = await startAuthServer(t.sdk, { user: () => ({ id: 'wb' }) });
    const a = connectPusherJs(t, { userAuthEndpoint: authA.userAuthEndpoint });
    const clients: PusherClient[] = [a];
    try {
      const seen: [string, string[]][] = [];
      a.user.watchlist.bind('online', (e: WatchEvent) => seen.push(['online', e.user_ids]));
      a.user.watchlist.bind('offline', (e: WatchEvent) => seen.push(['offline', e.user_ids]));
      await waitForState(a, 'connected');
      a.signin();
      await expect.poll(() => seen).toEqual([['offline', ['wb']]]);

      const b = await signedInJs(t, authB.userAuthEndpoint);
      clients.push(b.client);
      await expect
        .poll(() => seen)
        .toEqual([
          ['offline', ['wb']],
          ['online', ['wb']],
        ]);
      b.client.disconnect();
      await expect
        .poll(() => seen)
        .toEqual([
          ['offline', ['wb']],
          ['online', ['wb']],
          ['offline', ['wb']],
        ]);
    } finally {
      for (const c of clients) c.disconnect();
    }
  });

  it('the initial state lists online and offline ids; a user is online while any of its connections is signed in', async () => {
    await using t = await startTestGateway();
    await using on = await RawClient.established(t);
    await signin(t, on, { id: 'on' });
    await using watcher = await RawClient.established(t);
    await signin(t, watcher, { id: 'watcher', watchlist: ['on', 'off'] });
    await expect
      .poll(() => watchlistEvents(watcher))
      .toEqual([
        { name: 'online', user_ids: ['on'] },
        { name: 'offline', user_ids: ['off'] },
      ]);
    const off1 = await RawClient.established(t);
    await using off2 = await RawClient.established(t);
    await signin(t, off1, { id: 'off' });
    await signin(t, off2, { id: 'off' });
    await expect.poll(() => watchlistEvents(watcher).length).toBe(3);
    expect(watchlistEvents(watcher)[2]).toEqual({ name: 'online', user_ids: ['off'] });
    off1.close();
    await off1.closed;
    // Still online through off2: a later, observable change must be the next event the watcher hears.
    on.close();
    await expect.poll(() => watchlistEvents(watcher).length).toBe(4);
    expect(watchlistEvents(watcher)[3]).toEqual({ name: 'offline', user_ids: ['on'] });
    off2.close();
    await expect.poll(() => watchlistEvents(watcher)).toHaveLength(5);
    expect(watchlistEvents(watcher)[4]).toEqual({ name: 'offline', user_ids: ['off'] });
  });

  it('more than 100 ids: sign-in succeeds, the first 100 are watched, and pusher:error 4302 is sent', async () => {
    await using t = await startTestGateway();
    await using c = await RawClient.established(t);
    const ids = Array.from({ length: 101 }, (_, i) => `w${i}`);
    await signin(t, c, { id: 'many', watchlist: ids });
    await expect.poll(() => errors(c).map((e) => e.code)).toEqual([4302]);
    await expect.poll(() => watchlistEvents(c)).toEqual([{ name: 'offline', user_ids: ids.slice(0, 100) }]);
    // The 101st id is not watched: only w99 (the 100th) coming online is reported.
    await using w100 = await RawClient.established(t);
    await signin(t, w100, { id: 'w100' });
    await using w99 = await RawClient.established(t);
    await signin(t, w99, { id: 'w99' });
    await expect.poll(() => watchlistEvents(c)).toHaveLength(2);
    expect(watchlistEvents(c)[1]).toEqual({ name: 'online', user_ids: ['w99'] });
    await expectOpen(c);
  });
});
