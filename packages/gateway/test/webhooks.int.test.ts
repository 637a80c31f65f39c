/**
 * Webhooks of the embedded single-node mode, end to end: real gateway, real sockets, real HTTP receivers
 * that check every request with the official `pusher` SDK's validator.
 *
 * Timing rules: positive expectations wait with `expect.poll`; "no webhook was sent" is proven by waiting for a
 * later marker webhook (a channel occupied after the action under test, so any webhook the action could cause
 * was due before it) plus a margin, then asserting. The debounce delay is the behaviour under test, so its lower
 * bound is asserted strictly; upper bounds are generous (a busy machine delivers late, a missing or stuck timer
 * never does), and a scenario that must fit in the delay (a page reload) uses a longer one and checks it did.
 */
import { createHmac, randomBytes, randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import Pusher from 'pusher';
import { describe, expect, type ExpectStatic, it } from 'vitest';
import { RawClient, startTestGateway, startWebhookReceiver, type TestGateway, type WebhookReceiver } from '@herald/test-support';

const DELAY = 1000;
/** Slack for timer/clock granularity when asserting "not before the debounce delay". */
const EARLY_SLACK = 15;
/**
 * Upper bound of leave → webhook. Pusher documents 1-3 s; we allow more, since a busy machine may run the
 * timer and the POST late. A timer that never fires, or waits for some later event, still fails it.
 */
const LATE_BOUND = 10_000;
/**
 * For scenarios that must happen within the delay (leave and come back, subscribe and leave): long enough
 * that a busy machine still fits them in, and each test checks that it did.
 */
const LONG_DELAY = 3000;
/** expect.poll's default timeout (15 s) is the backstop; only the interval is tighter. */
const POLL = { interval: 20 } as const;

type Ev = Record<string, unknown> & { name?: string; channel?: string };

interface Creds {
  id: string;
  key: string;
  secret: string;
}

const creds = (tag: string): Creds => ({
  id: String(randomInt(100_000, 1_000_000)),
  key: `${tag}-${randomBytes(6).toString('hex')}`,
  secret: randomBytes(16).toString('hex'),
});

const sdkOf = (c: Creds, apiPort = 1) => new Pusher({ appId: c.id, key: c.key, secret: c.secret, host: '127.0.0.1', port: String(apiPort), useTLS: false });

const uniq = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

// ---------------------------------------------------------------------------------------------------------------
// Helpers over the receiver
// ---------------------------------------------------------------------------------------------------------------

type Rx = WebhookReceiver;

const matching = (rx: Rx, name: string, channel?: string, extra: (e: Ev) => boolean = () => true) =>
  rx.events().filter((e) => e.name === name && (channel === undefined || e.channel === channel) && extra(e));

/** Arrival times of every POST carrying a matching event. */
const arrivals = (rx: Rx, name: string, channel: string) =>
  rx
    .delivered()
    .filter((r) => r.body.events.some((e) => e.name === name && e.channel === channel))
    .map((r) => r.at);

const forChannel = (rx: Rx, channel: string) => rx.events().filter((e) => e.channel === channel);

async function connect(t: Pick<TestGateway, 'wsPort'>, key: string): Promise<RawClient> {
  return RawClient.established({ wsPort: t.wsPort, app: { key } });
}

async function subscribeOk(c: RawClient, channel: string, extra: Record<string, unknown> = {}) {
  const f = await c.subscribe(channel, extra);
  expect(f.event, `subscribe ${channel}: ${JSON.stringify(f.data)}`).toBe('pusher_internal:subscription_succeeded');
  return f;
}

async function joinPresence(c: RawClient, sdk: Pusher, channel: string, userId: string | number, userInfo?: unknown) {
  const a = sdk.authorizeChannel(c.socketId, channel, { user_id: userId, ...(userInfo !== undefined ? { user_info: userInfo } : {}) } as never);
  return subscribeOk(c, channel, { auth: a.auth, channel_data: a.channel_data });
}

async function joinPrivate(c: RawClient, sdk: Pusher, channel: string) {
  const a = sdk.authorizeChannel(c.socketId, channel);
  return subscribeOk(c, channel, { auth: a.auth });
}

async function leave(c: RawClient): Promise<number> {
  const at = Date.now();
  c.close();
  await c.closed;
  return at;
}

/**
 * Occupies a fresh channel (presence by default, so that it passes prefix filters too) and waits until its
 * occupied webhook reached every receiver, plus a margin: everything due before it has arrived by then.
 * `expect` is the test's own (its context's): the tests run concurrently.
 * The margin covers only the order of two POSTs sent one after the other (batches are delivered
 * concurrently, without an ordering guarantee), not any timer. A receiver given as `[rx, name]` gets
 * the occupied event under that name (a webman target: `channel_added`).
 */
async function marker(
  expect: ExpectStatic,
  t: Pick<TestGateway, 'wsPort'>,
  app: Creds,
  receivers: (Rx | [Rx, string])[],
  opts: { presence?: boolean; marginMs?: number } = {},
): Promise<RawClient> {
  const presence = opts.presence ?? true;
  const channel = uniq(presence ? 'presence-marker' : 'marker');
  const c = await connect(t, app.key);
  if (presence) await joinPresence(c, sdkOf(app), channel, 'marker-user');
  else await subscribeOk(c, channel);
  for (const entry of receivers) {
    const [rx, occupiedName] = Array.isArray(entry) ? entry : [entry, 'channel_occupied'];
    await expect.poll(() => matching(rx, occupiedName, channel).length, POLL).toBe(1);
  }
  await sleep(opts.marginMs ?? 400);
  return c;
}

const hmac = (secret: string, body: string) => createHmac('sha256', secret).update(body).digest('hex');

/** Header names exactly as sent on the wire. */
const rawNames = (rawHeaders: string[]) => rawHeaders.filter((_, i) => i % 2 === 0);

// ---------------------------------------------------------------------------------------------------------------

// Each test has its own gateway, app and receivers, and spends its time waiting out debounce delays
// and backoffs: they run side by side (vitest's maxConcurrency at once) rather than one by one.
describe.concurrent('webhooks: embedded single node', () => {
  it('channel_occupied after ≥ 1 s, channel_vacated ≥ 1 s after the leave, each once, signed and well-formed', async ({ expect }) => {
    const app = creds('basic');
    await using rx = await startWebhookReceiver(sdkOf(app));
    await using t = await startTestGateway({ apps: [{ ...app, webhooks: [{ url: rx.url }] }], webhookDelayMs: DELAY });
    const channel = uniq('basic');

    await using c = await connect(t, app.key);
    const subscribedAt = Date.now();
    await subscribeOk(c, channel);
    await expect.poll(() => matching(rx, 'channel_occupied', channel).length, POLL).toBe(1);
    const occupiedAt = arrivals(rx, 'channel_occupied', channel)[0]!;
    expect(occupiedAt - subscribedAt).toBeGreaterThanOrEqual(DELAY - EARLY_SLACK);

    // Nothing else while still occupied: the marker check below covers the whole test, and a vacated
    // before the leave would also fail the lower bound on its arrival.
    const leftAt = await leave(c);
    await expect.poll(() => matching(rx, 'channel_vacated', channel).length, POLL).toBe(1);
    const vacatedAt = arrivals(rx, 'channel_vacated', channel)[0]!;
    expect(vacatedAt - leftAt).toBeGreaterThanOrEqual(DELAY - EARLY_SLACK);
    expect(vacatedAt - leftAt).toBeLessThanOrEqual(LATE_BOUND);

    await using m = await marker(expect, t, app, [rx], { presence: false });
    expect(forChannel(rx, channel)).toEqual([
      { name: 'channel_occupied', channel },
      { name: 'channel_vacated', channel },
    ]);

    expect(rx.requests.length).toBeGreaterThanOrEqual(3);
    for (const a of rx.requests) {
      expect(a.valid, `SDK validator rejected ${a.rawBody}`).toBe(true);
      expect(a.status).toBe(200);
      // exact capitalization on the wire (PHP apps read getallheaders()['X-Pusher-Key'])
      expect(rawNames(a.rawHeaders)).toContain('X-Pusher-Key');
      expect(rawNames(a.rawHeaders)).toContain('X-Pusher-Signature');
      expect(a.headers['x-pusher-key']).toBe(app.key);
      expect(a.headers['x-pusher-signature']).toBe(hmac(app.secret, a.rawBody));
      expect(a.headers['x-pusher-signature']).toMatch(/^[0-9a-f]{64}$/);
      expect(a.headers['content-type']).toBe('application/json');
      expect(Number.isInteger(a.body.time_ms)).toBe(true);
      // milliseconds, not seconds: near the arrival time (generously: a busy machine delivers late)
      expect(Math.abs(a.body.time_ms - a.at)).toBeLessThan(60_000);
      expect(Array.isArray(a.body.events)).toBe(true);
    }
  });

  it('page reload (leave and come back within the delay) sends no vacated and no second occupied', async ({ expect }) => {
    const app = creds('reload');
    await using rx = await startWebhookReceiver(sdkOf(app));
    await using t = await startTestGateway({ apps: [{ ...app, webhooks: [{ url: rx.url }] }], webhookDelayMs: LONG_DELAY });
    const channel = uniq('reload');

    const first = await connect(t, app.key);
    await subscribeOk(first, channel);
    await expect.poll(() => matching(rx, 'channel_occupied', channel).length, POLL).toBe(1);

    const leftAt = await leave(first);
    await using second = await connect(t, app.key);
    await subscribeOk(second, channel);
    expect(Date.now() - leftAt, 'the reload took longer than the delay: this run proves nothing').toBeLessThan(LONG_DELAY);

    await using m = await marker(expect, t, app, [rx], { marginMs: 600 });
    expect(forChannel(rx, channel)).toEqual([{ name: 'channel_occupied', channel }]);
    expect(rx.delivered().every((r) => r.valid)).toBe(true);
  });

  it('a channel subscribed and left within the delay never produces any webhook', async ({ expect }) => {
    const app = creds('blip');
    await using rx = await startWebhookReceiver(sdkOf(app));
    await using t = await startTestGateway({ apps: [{ ...app, webhooks: [{ url: rx.url }] }], webhookDelayMs: LONG_DELAY });
    const channel = uniq('blip');

    const c = await connect(t, app.key);
    const subscribedAt = Date.now();
    await subscribeOk(c, channel);
    await sleep(200); // a short visit, not an instant one
    const leftAt = await leave(c);
    expect(leftAt - subscribedAt, 'the visit took longer than the delay: this run proves nothing').toBeLessThan(LONG_DELAY);

    await using m = await marker(expect, t, app, [rx], { marginMs: 600 });
    expect(forChannel(rx, channel)).toEqual([]);
  });

  it('two sockets on one channel: vacated only after the second one leaves', async ({ expect }) => {
    const app = creds('duo');
    await using rx = await startWebhookReceiver(sdkOf(app));
    await using t = await startTestGateway({ apps: [{ ...app, webhooks: [{ url: rx.url }] }], webhookDelayMs: DELAY });
    const channel = uniq('duo');

    const a = await connect(t, app.key);
    const b = await connect(t, app.key);
    await subscribeOk(a, channel);
    await subscribeOk(b, channel);
    await expect.poll(() => matching(rx, 'channel_occupied', channel).length, POLL).toBe(1);

    await leave(a);
    {
      await using m = await marker(expect, t, app, [rx]);
      expect(forChannel(rx, channel)).toEqual([{ name: 'channel_occupied', channel }]);
    }

    const leftAt = await leave(b);
    await expect.poll(() => matching(rx, 'channel_vacated', channel).length, POLL).toBe(1);
    const dt = arrivals(rx, 'channel_vacated', channel)[0]! - leftAt;
    expect(dt).toBeGreaterThanOrEqual(DELAY - EARLY_SLACK);
    expect(dt).toBeLessThanOrEqual(LATE_BOUND);
    await using m2 = await marker(expect, t, app, [rx]);
    expect(forChannel(rx, channel)).toEqual([
      { name: 'channel_occupied', channel },
      { name: 'channel_vacated', channel },
    ]);
  });

  it('presence: member_added once per user (two connections of one user), member_removed after its last connection leaves', async ({ expect }) => {
    const app = creds('presence');
    await using rx = await startWebhookReceiver(sdkOf(app));
    await using t = await startTestGateway({ apps: [{ ...app, webhooks: [{ url: rx.url }] }], webhookDelayMs: DELAY });
    const sdk = sdkOf(app);
    const channel = uniq('presence-room');

    const tab1 = await connect(t, app.key);
    const tab2 = await connect(t, app.key);
    const other = await connect(t, app.key);
    // numeric user id in channel_data: the webhook must carry it as a string
    await joinPresence(tab1, sdk, channel, 42, { name: 'Ann' });
    await expect.poll(() => matching(rx, 'member_added', channel).length, POLL).toBe(1);
    await joinPresence(tab2, sdk, channel, 42, { name: 'Ann' });
    await joinPresence(other, sdk, channel, 'u-2');
    await expect.poll(() => matching(rx, 'member_added', channel).length, POLL).toBe(2);

    await leave(tab1); // user 42 still has tab2
    {
      await using m = await marker(expect, t, app, [rx]);
      expect(matching(rx, 'member_added', channel)).toEqual([
        { name: 'member_added', channel, user_id: '42' },
        { name: 'member_added', channel, user_id: 'u-2' },
      ]);
      expect(matching(rx, 'member_removed', channel)).toEqual([]);
    }

    const leftAt = await leave(tab2);
    await expect.poll(() => matching(rx, 'member_removed', channel).length, POLL).toBe(1);
    const removed = matching(rx, 'member_removed', channel)[0]!;
    expect(removed).toEqual({ name: 'member_removed', channel, user_id: '42' });
    expect(typeof removed.user_id).toBe('string');
    const dt = arrivals(rx, 'member_removed', channel)[0]! - leftAt;
    expect(dt).toBeGreaterThanOrEqual(DELAY - EARLY_SLACK);
    expect(dt).toBeLessThanOrEqual(LATE_BOUND);

    await leave(other);
    await expect.poll(() => matching(rx, 'channel_vacated', channel).length, POLL).toBe(1);
    await using m2 = await marker(expect, t, app, [rx]);
    expect(matching(rx, 'member_removed', channel).map((e) => e.user_id)).toEqual(['42', 'u-2']);
    expect(matching(rx, 'member_added', channel)).toHaveLength(2);
    expect(matching(rx, 'channel_occupied', channel)).toHaveLength(1);
    expect(rx.delivered().every((r) => r.valid)).toBe(true);
  });

  it('presence page reload: the only connection of a user leaves and the user is back within the delay → no member webhooks', async ({ expect }) => {
    const app = creds('preload');
    await using rx = await startWebhookReceiver(sdkOf(app));
    await using t = await startTestGateway({ apps: [{ ...app, webhooks: [{ url: rx.url }] }], webhookDelayMs: LONG_DELAY });
    const sdk = sdkOf(app);
    const channel = uniq('presence-reload');

    const before = await connect(t, app.key);
    await joinPresence(before, sdk, channel, 'ann');
    await expect.poll(() => matching(rx, 'member_added', channel).length, POLL).toBe(1);
    const leftAt = await leave(before);
    await using after = await connect(t, app.key);
    await joinPresence(after, sdk, channel, 'ann');
    expect(Date.now() - leftAt, 'the reload took longer than the delay: this run proves nothing').toBeLessThan(LONG_DELAY);

    await using m = await marker(expect, t, app, [rx], { marginMs: 600 });
    expect(forChannel(rx, channel)).toEqual(
      expect.arrayContaining([
        { name: 'channel_occupied', channel },
        { name: 'member_added', channel, user_id: 'ann' },
      ]),
    );
    expect(forChannel(rx, channel)).toHaveLength(2);
  });

  it('client_event on a private channel: channel, event, data as a string, sender socket_id', async ({ expect }) => {
    const app = creds('cev');
    await using rx = await startWebhookReceiver(sdkOf(app));
    await using t = await startTestGateway({ apps: [{ ...app, webhooks: [{ url: rx.url }] }], webhookDelayMs: DELAY });
    const sdk = sdkOf(app);
    const channel = uniq('private-chat');

    await using sender = await connect(t, app.key);
    await using listener = await connect(t, app.key);
    await joinPrivate(sender, sdk, channel);
    await joinPrivate(listener, sdk, channel);
    sender.send({ event: 'client-typing', channel, data: { typing: true } });
    const relayed = await listener.waitFor((f) => f.event === 'client-typing');
    expect(relayed.data).toBe('{"typing":true}');

    await expect.poll(() => matching(rx, 'client_event', channel).length, POLL).toBe(1);
    const ev = matching(rx, 'client_event', channel)[0]!;
    expect(ev).toEqual({ name: 'client_event', channel, event: 'client-typing', data: '{"typing":true}', socket_id: sender.socketId });
    expect(ev).not.toHaveProperty('user_id');
    expect(rx.delivered().every((r) => r.valid)).toBe(true);
  });

  it('client_event on a presence channel also carries the sender user_id', async ({ expect }) => {
    const app = creds('cevp');
    await using rx = await startWebhookReceiver(sdkOf(app));
    await using t = await startTestGateway({ apps: [{ ...app, webhooks: [{ url: rx.url }] }], webhookDelayMs: DELAY });
    const sdk = sdkOf(app);
    const channel = uniq('presence-chat');

    await using sender = await connect(t, app.key);
    await using listener = await connect(t, app.key);
    await joinPresence(sender, sdk, channel, 7);
    await joinPresence(listener, sdk, channel, 'bob');
    sender.send({ event: 'client-typing', channel, data: { typing: true } });
    await listener.waitFor((f) => f.event === 'client-typing');

    await expect.poll(() => matching(rx, 'client_event', channel).length, POLL).toBe(1);
    expect(matching(rx, 'client_event', channel)[0]).toEqual({
      name: 'client_event',
      channel,
      event: 'client-typing',
      data: '{"typing":true}',
      socket_id: sender.socketId,
      user_id: '7',
    });
  });

  it('cache_miss: one webhook for an empty cache channel, also with two quick subscribers', async ({ expect }) => {
    const app = creds('cache');
    await using rx = await startWebhookReceiver(sdkOf(app));
    await using t = await startTestGateway({ apps: [{ ...app, webhooks: [{ url: rx.url }] }], webhookDelayMs: DELAY });
    const channel = uniq('cache-x');

    await using a = await connect(t, app.key);
    await using b = await connect(t, app.key);
    a.send({ event: 'pusher:subscribe', data: { channel } });
    b.send({ event: 'pusher:subscribe', data: { channel } });
    for (const c of [a, b]) {
      await c.waitFor((f) => f.event === 'pusher_internal:subscription_succeeded' && f.channel === channel);
      await c.waitFor((f) => f.event === 'pusher:cache_miss' && f.channel === channel);
    }
    await expect.poll(() => matching(rx, 'cache_miss', channel).length, POLL).toBe(1);

    await using m = await marker(expect, t, app, [rx]);
    expect(matching(rx, 'cache_miss', channel)).toEqual([{ name: 'cache_miss', channel }]);
    expect(rx.delivered().every((r) => r.valid)).toBe(true);
  });

  it('batching: channels occupied at the same moment arrive in one POST', async ({ expect }) => {
    const app = creds('batch');
    await using rx = await startWebhookReceiver(sdkOf(app));
    await using t = await startTestGateway({ apps: [{ ...app, webhooks: [{ url: rx.url }] }], webhookDelayMs: DELAY });
    const channels = [uniq('batch-a'), uniq('batch-b'), uniq('batch-c'), uniq('batch-d')];

    await using c = await connect(t, app.key);
    for (const channel of channels) c.send({ event: 'pusher:subscribe', data: { channel } });
    for (const channel of channels) {
      await c.waitFor((f) => f.event === 'pusher_internal:subscription_succeeded' && f.channel === channel);
    }
    await expect.poll(() => rx.events().filter((e) => e.name === 'channel_occupied').length, POLL).toBe(channels.length);

    const posts = rx.delivered().filter((r) => r.body.events.some((e) => channels.includes(e.channel as string)));
    expect(posts).toHaveLength(1);
    expect(posts[0]!.valid).toBe(true);
    expect(posts[0]!.body.events).toHaveLength(channels.length);
    expect(new Set(posts[0]!.body.events.map((e) => e.channel))).toEqual(new Set(channels));
  });

  it('filters: per-target event types and channel prefix; a webman target gets webman names', async ({ expect }) => {
    const app = creds('filters');
    const sdk = sdkOf(app);
    await using rxTypes = await startWebhookReceiver(sdk);
    await using rxPrefix = await startWebhookReceiver(sdk);
    await using rxWebman = await startWebhookReceiver(sdk);
    await using t = await startTestGateway({
      apps: [
        {
          ...app,
          webhooks: [
            { url: rxTypes.url, events: ['channel_occupied', 'channel_vacated'] },
            { url: rxPrefix.url, channel_prefix: 'presence-' },
            { url: rxWebman.url, format: 'webman' },
          ],
        },
      ],
      webhookDelayMs: DELAY,
    });
    const pub = uniq('news');
    const pres = uniq('presence-room');

    const c1 = await connect(t, app.key);
    const c2 = await connect(t, app.key);
    await subscribeOk(c1, pub);
    await joinPresence(c1, sdk, pres, 'ann');
    await joinPresence(c2, sdk, pres, 'bob');
    c1.send({ event: 'client-note', channel: pres, data: 'hello' });
    await c2.waitFor((f) => f.event === 'client-note');

    await expect.poll(() => matching(rxTypes, 'channel_occupied').length, POLL).toBe(2);
    await expect.poll(() => matching(rxPrefix, 'member_added', pres).length, POLL).toBe(2);
    await expect.poll(() => matching(rxPrefix, 'client_event', pres).length, POLL).toBe(1);
    await expect.poll(() => matching(rxWebman, 'channel_added').length, POLL).toBe(2);
    await expect.poll(() => matching(rxWebman, 'user_added', pres).length, POLL).toBe(2);
    await expect.poll(() => matching(rxWebman, 'client_event', pres).length, POLL).toBe(1);

    await leave(c1);
    await leave(c2);
    await expect.poll(() => matching(rxTypes, 'channel_vacated').length, POLL).toBe(2);
    await expect.poll(() => matching(rxPrefix, 'channel_vacated', pres).length, POLL).toBe(1);
    await expect.poll(() => matching(rxPrefix, 'member_removed', pres).length, POLL).toBe(2);
    await expect.poll(() => matching(rxWebman, 'channel_removed').length, POLL).toBe(2);
    await expect.poll(() => matching(rxWebman, 'user_removed', pres).length, POLL).toBe(2);
    // anything else the scenario caused has arrived by the marker's occupied (its own events are filtered out below)
    await using m = await marker(expect, t, app, [rxTypes, rxPrefix, [rxWebman, 'channel_added']]);
    const notMarker = (e: Ev) => !String(e.channel).startsWith('presence-marker-');

    // events filter: only occupancy, both channels
    expect(new Set(rxTypes.events().map((e) => e.name))).toEqual(new Set(['channel_occupied', 'channel_vacated']));
    expect(
      new Set(
        rxTypes
          .events()
          .filter(notMarker)
          .map((e) => e.channel),
      ),
    ).toEqual(new Set([pub, pres]));
    // prefix filter: every event type, only presence- channels, Pusher names
    expect(rxPrefix.events().every((e) => String(e.channel).startsWith('presence-'))).toBe(true);
    expect(new Set(rxPrefix.events().map((e) => e.name))).toEqual(
      new Set(['channel_occupied', 'member_added', 'client_event', 'member_removed', 'channel_vacated']),
    );
    // webman format: webman names for occupancy and presence, nothing under the Pusher names
    const webmanNames = new Set(rxWebman.events().map((e) => e.name));
    expect(webmanNames).toEqual(new Set(['channel_added', 'user_added', 'client_event', 'user_removed', 'channel_removed']));
    expect(
      matching(rxWebman, 'user_added', pres)
        .map((e) => e.user_id)
        .sort(),
    ).toEqual(['ann', 'bob']);
    // every target gets its own correctly signed request: the signature covers the filtered body
    for (const rx of [rxTypes, rxPrefix, rxWebman]) {
      expect(rx.delivered().length).toBeGreaterThan(0);
      expect(rx.delivered().every((r) => r.valid)).toBe(true);
    }
  });

  it('retries: 500, 500, then 200 → delivered once, same X-Herald-Webhook-Id and body on every attempt', async ({ expect }) => {
    const app = creds('retry');
    await using rx = await startWebhookReceiver(sdkOf(app), (n) => (n < 2 ? 500 : 200));
    await using t = await startTestGateway({ apps: [{ ...app, webhooks: [{ url: rx.url }] }], webhookDelayMs: DELAY });
    const channel = uniq('retry');

    await using c = await connect(t, app.key);
    await subscribeOk(c, channel);
    await expect.poll(() => rx.delivered().length, { timeout: 30_000, interval: 50 }).toBe(1);

    const first = rx.requests[0]!;
    const id = first.headers['x-herald-webhook-id'];
    expect(typeof id).toBe('string');
    expect(id).not.toBe('');
    const same = rx.requests.filter((a) => a.headers['x-herald-webhook-id'] === id);
    expect(same.map((a) => a.status)).toEqual([500, 500, 200]);
    for (const a of same) {
      expect(a.valid).toBe(true);
      expect(a.rawBody).toBe(first.rawBody); // original time_ms kept
    }
    expect(first.body.events).toEqual([{ name: 'channel_occupied', channel }]);
    // backoff: ~1 s then ~2 s (±20 % jitter)
    expect(same[1]!.at - same[0]!.at).toBeGreaterThanOrEqual(700);
    expect(same[2]!.at - same[1]!.at).toBeGreaterThanOrEqual(1400);

    // nothing more for this batch once it got its 2xx
    await using m = await marker(expect, t, app, [rx]);
    expect(rx.requests.filter((a) => a.headers['x-herald-webhook-id'] === id)).toHaveLength(3);
    expect(matching(rx, 'channel_occupied', channel)).toHaveLength(1);
  });

  it('a receiver holding its answers does not hold sockets up', async ({ expect }) => {
    const app = creds('slow');
    // The receiver answers only when the test says so: socket traffic is checked while a webhook POST is
    // certainly pending, however long the machine takes (a fixed 3 s hold raced the ten triggers below).
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    await using rx = await startWebhookReceiver(sdkOf(app), () => released.then(() => 200));
    await using t = await startTestGateway({ apps: [{ ...app, webhooks: [{ url: rx.url }] }], webhookDelayMs: DELAY });
    const stuck = uniq('stuck');
    const live = uniq('live');

    await using watcher = await connect(t, app.key);
    await subscribeOk(watcher, stuck);
    await using sub = await connect(t, app.key);
    await subscribeOk(sub, live);
    // the occupied webhooks are now posted and held by the receiver
    await expect.poll(() => rx.requests.length, POLL).toBeGreaterThanOrEqual(1);
    expect(rx.requests.every((a) => a.answeredAt === undefined)).toBe(true);

    // Every trigger is delivered while no webhook POST has been answered: sockets never wait on it.
    for (let i = 0; i < 10; i++) {
      await t.sdk.trigger(live, 'tick', { i });
      await sub.waitFor((f) => f.event === 'tick' && f.channel === live && JSON.parse(f.data as string).i === i);
    }
    expect(rx.requests.every((a) => a.answeredAt === undefined)).toBe(true);

    // and the webhook still arrives once the receiver answers
    release();
    await expect.poll(() => rx.delivered().length, { timeout: 30_000, interval: 50 }).toBeGreaterThanOrEqual(1);
    expect(rx.requests.every((a) => a.valid)).toBe(true);
  });

  it('multiple apps: app B webhooks go to B URL signed with B secret, never to A', async ({ expect }) => {
    const a = creds('appa');
    const b = creds('appb');
    await using rxA = await startWebhookReceiver(sdkOf(a));
    await using rxB = await startWebhookReceiver(sdkOf(b));
    await using t = await startTestGateway({
      apps: [
        { ...a, webhooks: [{ url: rxA.url }] },
        { ...b, webhooks: [{ url: rxB.url }] },
      ],
      webhookDelayMs: DELAY,
    });
    const chB = uniq('b-only');
    const chA = uniq('a-only');

    await using cb = await connect(t, b.key);
    await subscribeOk(cb, chB);
    await using ca = await connect(t, a.key);
    await subscribeOk(ca, chA);
    await expect.poll(() => matching(rxB, 'channel_occupied', chB).length, POLL).toBe(1);
    await expect.poll(() => matching(rxA, 'channel_occupied', chA).length, POLL).toBe(1);
    await using mA = await marker(expect, t, a, [rxA]);
    await using mB = await marker(expect, t, b, [rxB]);

    expect(matching(rxA, 'channel_occupied', chB)).toEqual([]);
    expect(matching(rxB, 'channel_occupied', chA)).toEqual([]);
    for (const r of rxB.delivered()) {
      expect(r.valid).toBe(true); // validated with B's SDK
      expect(r.headers['x-pusher-key']).toBe(b.key);
      expect(r.headers['x-pusher-signature']).toBe(hmac(b.secret, r.rawBody));
      expect(sdkOf(a).webhook({ headers: r.headers, rawBody: r.rawBody }).isValid()).toBe(false);
    }
    for (const r of rxA.delivered()) {
      expect(r.valid).toBe(true);
      expect(r.headers['x-pusher-key']).toBe(a.key);
    }
  });

  it("the gateway's close() flushes a pending channel_vacated", async ({ expect }) => {
    const app = creds('flush');
    await using rx = await startWebhookReceiver(sdkOf(app));
    // A delay that close() on a busy machine cannot take, so that a close waiting out the timer is told
    // apart from one that flushes.
    const FLUSH_DELAY = 5000;
    const t = await startTestGateway({ apps: [{ ...app, webhooks: [{ url: rx.url }] }], webhookDelayMs: FLUSH_DELAY });
    const channel = uniq('flush');
    try {
      const c = await connect(t, app.key);
      await subscribeOk(c, channel);
      await expect.poll(() => matching(rx, 'channel_occupied', channel).length, POLL).toBe(1);

      const leftAt = Date.now();
      c.close();
      await t.gw.close();
      const closedAt = Date.now();
      expect(closedAt - leftAt).toBeLessThan(FLUSH_DELAY); // close did not simply wait out the delay
      await expect.poll(() => matching(rx, 'channel_vacated', channel).length, POLL).toBe(1);
      expect(arrivals(rx, 'channel_vacated', channel)[0]! - leftAt).toBeLessThan(FLUSH_DELAY);
      expect(rx.delivered().every((r) => r.valid)).toBe(true);
    } finally {
      await t.close();
    }
  });
});
