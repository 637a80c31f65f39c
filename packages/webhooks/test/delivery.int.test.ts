import { afterEach, describe, expect, it } from 'vitest';
import Pusher from 'pusher';
import { hmacSha256Hex } from '@herald/protocol';
import { WebhookDelivery } from '../src/delivery.js';
import { WebhookDeliveryError, WebhookErrorCode } from '../src/delivery-error.js';
import type { WebhookTarget } from '@herald/config';
import type { WebhookApp, WebhookBatch } from '../src/types.js';
import { captureLogger, startWebhookReceiver, type Respond, type WebhookReceiver } from '@herald/test-support';

// the credentials of docs/reference/webhooks.md#worked-examples.
const app = (webhooks: WebhookTarget[] = []): WebhookApp => ({
  id: '42',
  key: '278d425bdf160c739803',
  secret: '7ad3773142a6692b25b8',
  webhooks,
});
const batch = (over: Partial<WebhookBatch> = {}): WebhookBatch => ({
  id: '0b6c7c1e-5d3a-4a53-9f57-3f0f3c6d2b11',
  timeMs: 1700000000000,
  events: [{ name: 'channel_occupied', channel: 'my-channel' }],
  ...over,
});

const receivers: WebhookReceiver[] = [];
const deliveries: WebhookDelivery[] = [];
async function receiver(respond?: Respond) {
  const r = await startWebhookReceiver(undefined, respond);
  receivers.push(r);
  return r;
}
function delivery(options: ConstructorParameters<typeof WebhookDelivery>[0]) {
  const d = new WebhookDelivery(options);
  deliveries.push(d);
  return d;
}
afterEach(async () => {
  for (const d of deliveries.splice(0)) d.abort();
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

describe('WebhookDelivery', () => {
  it('posts signed bytes with the exact headers (spec vector W1), valid for the pusher SDK', async () => {
    const r = await receiver();
    const log = captureLogger();
    const d = delivery({ log });
    const target: WebhookTarget = { url: r.url, headers: { 'X-Custom': 'yes', 'content-type': 'text/plain', 'X-Pusher-Signature': 'forged' } };
    d.deliver(app(), target, batch());
    expect(await d.drain(15_000)).toBe(true);

    expect(r.requests).toHaveLength(1);
    const req = r.requests[0]!;
    const rawBody = req.rawBody;
    expect(req.method).toBe('POST');
    expect(rawBody).toBe('{"time_ms":1700000000000,"events":[{"name":"channel_occupied","channel":"my-channel"}]}');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['x-pusher-key']).toBe('278d425bdf160c739803');
    expect(req.headers['x-pusher-signature']).toBe('cb2683f8aaa9de8cdbc72838077bd6ac7c3e64c57fe83fb7b13812a1bd5df142');
    expect(req.headers['x-pusher-signature']).toBe(hmacSha256Hex(app().secret, req.bytes));
    expect(req.headers['x-herald-webhook-id']).toBe(batch().id);
    expect(req.headers['x-custom']).toBe('yes');
    // Capitalisation on the wire matters to PHP receivers; reserved names are never duplicated by custom headers.
    const names = req.rawHeaders.filter((_, i) => i % 2 === 0);
    expect(names).toEqual(expect.arrayContaining(['Content-Type', 'X-Pusher-Key', 'X-Pusher-Signature', 'X-Herald-Webhook-Id']));
    expect(names.filter((n) => n.toLowerCase() === 'content-type')).toHaveLength(1);
    expect(names.filter((n) => n.toLowerCase() === 'x-pusher-signature')).toHaveLength(1);

    const pusher = new Pusher({ appId: '42', key: app().key, secret: app().secret, cluster: 'mt1' });
    const webhook = pusher.webhook({ headers: req.headers, rawBody });
    expect(webhook.isValid()).toBe(true);
    expect(webhook.getEvents()).toEqual(batch().events);
    expect(d.stats()).toEqual({ sent: 1, failedAttempts: 0, deadLettered: 0 });
  });

  it('signs non-ASCII bodies over the UTF-8 bytes sent', async () => {
    const r = await receiver();
    const d = delivery({ log: captureLogger() });
    d.deliver(
      app(),
      { url: r.url },
      batch({
        events: [{ name: 'client_event', channel: 'private-é', event: 'client-x', data: '{"t":"日本 🎉"}', socket_id: '1.2' }],
      }),
    );
    await d.drain(15_000);
    const req = r.requests[0]!;
    expect(req.headers['x-pusher-signature']).toBe(hmacSha256Hex(app().secret, req.bytes));
    const pusher = new Pusher({ appId: '42', key: app().key, secret: app().secret, cluster: 'mt1' });
    expect(pusher.webhook({ headers: req.headers, rawBody: req.rawBody }).isValid()).toBe(true);
  });

  it('retries after 500s with the same id, time_ms and bytes, then succeeds', async () => {
    const r = await receiver((n) => (n < 2 ? 500 : 204));
    const log = captureLogger();
    const d = delivery({ log, retry: { initialDelayMs: 20, windowMs: 5000 } });
    const started = Date.now();
    d.deliver(app(), { url: r.url }, batch({ timeMs: started }));
    expect(await d.drain(15_000)).toBe(true);

    expect(r.requests).toHaveLength(3);
    const ids = new Set(r.requests.map((q) => q.headers['x-herald-webhook-id']));
    expect(ids).toEqual(new Set([batch().id]));
    const bodies = new Set(r.requests.map((q) => q.rawBody));
    expect(bodies.size).toBe(1);
    expect(JSON.parse(r.requests[2]!.rawBody).time_ms).toBe(started);
    expect(d.stats()).toEqual({ sent: 1, failedAttempts: 2, deadLettered: 0 });

    const warnings = log.entries.filter((e) => e.level === 'warn');
    expect(warnings.map((w) => [w.obj.attempt, w.obj.status, w.obj.url])).toEqual([
      [1, 500, r.url],
      [2, 500, r.url],
    ]);
    const text = log.text();
    expect(text).not.toContain(app().secret);
    expect(text).not.toContain(r.requests[0]!.headers['x-pusher-signature']);
  });

  it('gives up after the retry window and calls onDeadLetter once with the last error', async () => {
    const arrivals: number[] = [];
    const r = await receiver(() => {
      arrivals.push(Date.now());
      return 503;
    });
    const dead: [WebhookBatch, WebhookTarget, Error][] = [];
    const target: WebhookTarget = { url: r.url };
    const d = delivery({
      log: captureLogger(),
      retry: { initialDelayMs: 50, factor: 2, windowMs: 1000, jitter: 0 },
      onDeadLetter: (b, t, e) => dead.push([b, t, e]),
    });
    const started = Date.now();
    d.deliver(app(), target, batch());
    expect(await d.drain(15_000)).toBe(true);

    // Attempts are due at 0, 50, 150, 350, 750 ms, each later by the latency of the attempts before it; the
    // next, due at 1550 ms or later, is past the window. A busy machine may make fewer (the window is wide
    // enough for three), never more, and none starts after the window (its arrival may trail by its latency).
    expect(r.requests.length).toBeGreaterThanOrEqual(3);
    expect(r.requests.length).toBeLessThanOrEqual(5);
    for (const at of arrivals) expect(at - started).toBeLessThan(1000 + 500);
    expect(dead).toHaveLength(1);
    const [b, t, e] = dead[0]!;
    expect(b).toEqual(batch());
    expect(t).toBe(target);
    expect(e).toBeInstanceOf(WebhookDeliveryError);
    expect(e).toMatchObject({ code: WebhookErrorCode.HttpStatus, status: 503 });
    expect(d.stats()).toEqual({ sent: 0, failedAttempts: r.requests.length, deadLettered: 1 });
  });

  it('logs the dead letter at error by default', async () => {
    const r = await receiver(() => 500);
    const log = captureLogger();
    const d = delivery({ log, retry: { windowMs: 0 } });
    d.deliver(app(), { url: r.url }, batch());
    await d.drain(15_000);
    expect(log.entries.filter((e) => e.level === 'error')).toEqual([
      expect.objectContaining({ msg: 'webhook dead-lettered', obj: expect.objectContaining({ webhookId: batch().id, url: r.url }) }),
    ]);
  });

  it('aborts an attempt the receiver never answers after attemptTimeoutMs', async () => {
    const r = await receiver(() => 'hang');
    const dead: Error[] = [];
    const log = captureLogger();
    const d = delivery({ log, retry: { attemptTimeoutMs: 150, windowMs: 0 }, onDeadLetter: (_b, _t, e) => dead.push(e) });
    const started = Date.now();
    d.deliver(app(), { url: r.url }, batch());
    expect(d.inFlight).toBe(1);
    expect(await d.drain(15_000)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(r.requests).toHaveLength(1);
    expect(dead).toEqual([expect.objectContaining({ code: WebhookErrorCode.Timeout })]);
    expect(log.entries.find((e) => e.level === 'warn')?.obj).toMatchObject({ attempt: 1, err: 'no response within 150 ms' });
  });

  it('treats a refused connection as a network failure', async () => {
    const r = await receiver();
    await r.close();
    const dead: Error[] = [];
    const d = delivery({ log: captureLogger(), retry: { windowMs: 0 }, onDeadLetter: (_b, _t, e) => dead.push(e) });
    d.deliver(app(), { url: r.url }, batch());
    await d.drain(15_000);
    expect(dead).toEqual([expect.objectContaining({ code: WebhookErrorCode.Network, message: 'request failed: ECONNREFUSED' })]);
  });

  it('abort() cuts retry waits short and dead-letters with code Aborted', async () => {
    const r = await receiver(() => 500);
    const dead: Error[] = [];
    const d = delivery({ log: captureLogger(), retry: { initialDelayMs: 60_000 }, onDeadLetter: (_b, _t, e) => dead.push(e) });
    d.deliver(app(), { url: r.url }, batch());
    await expect.poll(() => r.requests.length).toBe(1);
    expect(await d.drain(100)).toBe(false);
    d.abort();
    expect(await d.drain(15_000)).toBe(true); // a backstop: it settles promptly
    expect(dead).toEqual([expect.objectContaining({ code: WebhookErrorCode.Aborted })]);
  });

  it('sends url credentials as Basic auth and never logs them', async () => {
    const r = await receiver(() => 500);
    const log = captureLogger();
    const d = delivery({ log, retry: { windowMs: 0 } });
    d.deliver(app(), { url: r.url.replace('http://', 'http://user:hunter2@') }, batch());
    await d.drain(15_000);
    expect(r.requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from('user:hunter2').toString('base64')}`);
    expect(log.entries.length).toBeGreaterThan(0);
    expect(log.text()).not.toContain('hunter2');
  });

  it('dead-letters an invalid url at once without logging it', async () => {
    const dead: Error[] = [];
    const log = captureLogger();
    const d = delivery({ log, onDeadLetter: (_b, _t, e) => dead.push(e) });
    d.deliver(app(), { url: 'not a url with secret-token' }, batch());
    expect(await d.drain(15_000)).toBe(true); // a backstop: it settles promptly
    expect(dead).toEqual([expect.objectContaining({ code: WebhookErrorCode.InvalidUrl })]);
    expect(log.text()).not.toContain('secret-token');
  });
});
