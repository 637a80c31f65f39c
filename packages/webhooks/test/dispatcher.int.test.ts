import { afterEach, describe, expect, it } from 'vitest';
import Pusher from 'pusher';
import { WebhookDispatcher, type WebhookDispatcherOptions } from '../src/dispatcher.js';
import { WebhookErrorCode } from '../src/delivery-error.js';
import type { WebhookTarget } from '@herald/config';
import type { WebhookEvent } from '@herald/protocol';
import type { WebhookApp } from '../src/types.js';
import { captureLogger, startWebhookReceiver, type Respond, type WebhookReceiver, type WebhookRequest } from '@herald/test-support';

const receivers: WebhookReceiver[] = [];
const dispatchers: WebhookDispatcher[] = [];
async function receiver(respond?: Respond) {
  const r = await startWebhookReceiver(undefined, respond);
  receivers.push(r);
  return r;
}
function dispatcher(apps: WebhookApp[], options: Partial<WebhookDispatcherOptions> = {}) {
  const byId = new Map(apps.map((a) => [a.id, a]));
  // flush() waits for deliveries up to flushTimeoutMs: a backstop here (tests of the timeout set their own)
  const d = new WebhookDispatcher({ apps: (id) => byId.get(id), delayMs: 100, log: captureLogger(), flushTimeoutMs: 15_000, ...options });
  dispatchers.push(d);
  return d;
}
const makeApp = (id: string, webhooks: WebhookTarget[]): WebhookApp => ({ id, key: `key-${id}`, secret: `secret-${id}`, webhooks });
const body = (req: WebhookRequest) => JSON.parse(req.rawBody) as { time_ms: number; events: WebhookEvent[] };
const allEvents = (r: WebhookReceiver) => r.requests.flatMap((q) => body(q).events);

afterEach(async () => {
  await Promise.all(dispatchers.splice(0).map((d) => d.close()));
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

describe('WebhookDispatcher', () => {
  it('batches an app’s events into one signed POST per target, apart from other apps', async () => {
    const r = await receiver();
    const a = makeApp('a', [{ url: r.url }]);
    const b = makeApp('b', [{ url: r.url }]);
    const d = dispatcher([a, b], { batchWindowMs: 100 });

    d.clientEvent('a', { channel: 'private-x', event: 'client-1', data: '{"n":1}', socketId: '1.1' });
    d.clientEvent('a', { channel: 'presence-x', event: 'client-2', data: '"s"', socketId: '1.2', userId: '7' });
    d.cacheMiss('a', 'cache-prices');
    d.cacheMiss('a', 'cache-prices');
    d.cacheMiss('a', 'cache-other');
    d.cacheMiss('b', 'cache-prices');

    await expect.poll(() => r.requests.length).toBe(2);
    await d.flush(); // nothing was left open
    expect(r.requests).toHaveLength(2);

    const fromA = r.requests.find((q) => q.headers['x-pusher-key'] === 'key-a')!;
    const fromB = r.requests.find((q) => q.headers['x-pusher-key'] === 'key-b')!;
    expect(body(fromA).events).toEqual([
      { name: 'client_event', channel: 'private-x', event: 'client-1', data: '{"n":1}', socket_id: '1.1' },
      { name: 'client_event', channel: 'presence-x', event: 'client-2', data: '"s"', socket_id: '1.2', user_id: '7' },
      { name: 'cache_miss', channel: 'cache-prices' },
      { name: 'cache_miss', channel: 'cache-other' },
    ]);
    expect(body(fromB).events).toEqual([{ name: 'cache_miss', channel: 'cache-prices' }]);
    expect(Number.isInteger(body(fromA).time_ms)).toBe(true);
    for (const [req, app] of [
      [fromA, a],
      [fromB, b],
    ] as const) {
      const pusher = new Pusher({ appId: app.id, key: app.key, secret: app.secret, cluster: 'mt1' });
      expect(pusher.webhook({ headers: req.headers, rawBody: req.rawBody }).isValid()).toBe(true);
    }
    expect(d.stats()).toMatchObject({ pending: 0, sent: 2, failedAttempts: 0, deadLettered: 0 });
  });

  it('debounces occupancy and presence: a quick leave-and-return sends nothing, a real leave sends vacated', async () => {
    const r = await receiver();
    const d = dispatcher([makeApp('a', [{ url: r.url }])], { delayMs: 150, batchWindowMs: 10 });

    d.channelOccupancy('a', 'presence-room', true);
    d.memberPresence('a', 'presence-room', '10', true);
    await expect
      .poll(() => allEvents(r))
      .toEqual([
        { name: 'channel_occupied', channel: 'presence-room' },
        { name: 'member_added', channel: 'presence-room', user_id: '10' },
      ]);
    // The receiver records a POST before answering it: wait for the answer, so that `pending` below
    // counts only debounced changes.
    await expect.poll(() => d.stats()).toMatchObject({ pending: 0, sent: 1 });

    d.memberPresence('a', 'presence-room', '10', false); // page reload
    d.channelOccupancy('a', 'presence-room', false);
    d.channelOccupancy('a', 'presence-room', true);
    d.memberPresence('a', 'presence-room', '10', true);
    expect(d.stats().pending).toBe(0);

    d.memberPresence('a', 'presence-room', '10', false);
    d.channelOccupancy('a', 'presence-room', false);
    await expect.poll(() => allEvents(r)).toHaveLength(4);
    expect(allEvents(r).slice(2)).toEqual([
      { name: 'member_removed', channel: 'presence-room', user_id: '10' },
      { name: 'channel_vacated', channel: 'presence-room' },
    ]);
  });

  it('filters per target by event type and channel prefix, and renames for webman targets', async () => {
    const onlyOccupancy = await receiver();
    const onlyPresence = await receiver();
    const webman = await receiver();
    const app = makeApp('a', [
      { url: onlyOccupancy.url, events: ['channel_occupied', 'channel_vacated'] },
      { url: onlyPresence.url, channelPrefix: 'presence-' },
      { url: webman.url, format: 'webman', events: ['channel_occupied', 'member_added', 'client_event'] },
    ]);
    const d = dispatcher([app], { delayMs: 0, batchWindowMs: 30 });

    d.channelOccupancy('a', 'presence-r', true);
    d.channelOccupancy('a', 'public', true);
    d.memberPresence('a', 'presence-r', 'u1', true);
    d.clientEvent('a', { channel: 'private-c', event: 'client-x', data: '{}', socketId: '1.1' });
    await d.flush();

    expect(allEvents(onlyOccupancy)).toEqual([
      { name: 'channel_occupied', channel: 'presence-r' },
      { name: 'channel_occupied', channel: 'public' },
    ]);
    expect(allEvents(onlyPresence)).toEqual([
      { name: 'channel_occupied', channel: 'presence-r' },
      { name: 'member_added', channel: 'presence-r', user_id: 'u1' },
    ]);
    expect(allEvents(webman)).toEqual([
      { name: 'channel_added', channel: 'presence-r' },
      { name: 'channel_added', channel: 'public' },
      { name: 'user_added', channel: 'presence-r', user_id: 'u1' },
      { name: 'client_event', channel: 'private-c', event: 'client-x', data: '{}', socket_id: '1.1' },
    ]);
    expect([onlyOccupancy, onlyPresence, webman].map((r) => r.requests.length)).toEqual([1, 1, 1]);
  });

  it('sends a batch as soon as it reaches maxBatchSize', async () => {
    const r = await receiver();
    const d = dispatcher([makeApp('a', [{ url: r.url }])], { batchWindowMs: 60_000, maxBatchSize: 2 });
    for (let i = 0; i < 5; i++) d.clientEvent('a', { channel: 'private-c', event: `client-${i}`, data: '{}', socketId: '1.1' });
    await expect.poll(() => r.requests.length).toBe(2);
    expect(r.requests.map((q) => body(q).events.length)).toEqual([2, 2]);
    // answered (a recorded POST may still be in flight), and the fifth event waits for its window
    await expect.poll(() => d.stats()).toMatchObject({ pending: 1, sent: 2 });
    await d.flush();
    expect(r.requests.map((q) => body(q).events.length)).toEqual([2, 2, 1]);
  });

  it('never blocks the caller on a slow receiver, and other targets keep flowing', async () => {
    const slow = await receiver(() => 'hang');
    const fast = await receiver();
    const d = dispatcher([makeApp('slow', [{ url: slow.url }]), makeApp('fast', [{ url: fast.url }])], {
      delayMs: 0,
      batchWindowMs: 5,
      maxBatchSize: 1,
      flushTimeoutMs: 50,
      retry: { attemptTimeoutMs: 60_000 },
      onDeadLetter: () => undefined,
    });

    const started = performance.now();
    for (let i = 0; i < 200; i++) {
      const result: unknown = d.channelOccupancy('slow', `c-${i}`, true);
      expect(result).toBeUndefined(); // synchronous, not a promise
    }
    // A caller held up by the receiver would wait for the 60 s attempt timeout; the bound is generous for a busy machine.
    expect(performance.now() - started).toBeLessThan(10_000);
    await expect.poll(() => slow.requests.length).toBeGreaterThan(0);

    d.channelOccupancy('fast', 'c', true);
    await expect.poll(() => allEvents(fast)).toEqual([{ name: 'channel_occupied', channel: 'c' }]);
    expect(d.stats().pending).toBeGreaterThan(0);
  });

  it('close() sends pending debounced transitions and open batches at once', async () => {
    const r = await receiver();
    const d = dispatcher([makeApp('a', [{ url: r.url }])], { delayMs: 60_000, batchWindowMs: 60_000 });
    d.channelOccupancy('a', 'presence-r', true);
    d.memberPresence('a', 'presence-r', '1', true);
    d.cacheMiss('a', 'cache-x');
    expect(d.stats().pending).toBe(3);

    await d.close();
    expect(r.requests).toHaveLength(1);
    expect(allEvents(r)).toEqual([
      { name: 'cache_miss', channel: 'cache-x' },
      { name: 'channel_occupied', channel: 'presence-r' },
      { name: 'member_added', channel: 'presence-r', user_id: '1' },
    ]);
    expect(d.stats()).toEqual({ pending: 0, sent: 1, failedAttempts: 0, deadLettered: 0, dropped: 0 });

    d.cacheMiss('a', 'cache-y'); // ignored after close
    expect(d.stats().pending).toBe(0);
  });

  it('close() dead-letters deliveries still running after flushTimeoutMs', async () => {
    const r = await receiver(() => 'hang');
    const dead: Error[] = [];
    const d = dispatcher([makeApp('a', [{ url: r.url }])], {
      delayMs: 0,
      flushTimeoutMs: 150,
      retry: { attemptTimeoutMs: 60_000 },
      onDeadLetter: (_b, _t, e) => dead.push(e),
    });
    d.channelOccupancy('a', 'c', true);
    const started = Date.now();
    await d.close();
    // It waited flushTimeoutMs, not the 60 s attempt timeout (generously bounded for a busy machine).
    expect(Date.now() - started).toBeGreaterThanOrEqual(150 - 15);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(dead).toEqual([expect.objectContaining({ code: WebhookErrorCode.Aborted })]);
    expect(d.stats()).toMatchObject({ pending: 0, deadLettered: 1 });
  });

  it('costs nothing for apps without webhooks', async () => {
    const d = dispatcher([makeApp('a', [])], { delayMs: 100 });
    d.channelOccupancy('a', 'c', true);
    d.memberPresence('a', 'presence-c', 'u', true);
    d.clientEvent('a', { channel: 'private-c', event: 'client-x', data: '{}', socketId: '1.1' });
    d.cacheMiss('unknown-app', 'cache-c');
    expect(d.stats()).toEqual({ pending: 0, sent: 0, failedAttempts: 0, deadLettered: 0, dropped: 0 });
  });
});
