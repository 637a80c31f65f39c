/**
 * Embedded mode's bound on webhook batches in flight (PUSH_WEBHOOK_MAX_IN_FLIGHT), with a real
 * receiver that never answers: batches beyond the cap are dropped, reported, and logged once a
 * second per app, never silently and never queued without bound.
 */
import { WebhookDispatcher, type WebhookApp, type WebhookDropReason } from '@herald/webhooks';
import type { WebhookEventName } from '@herald/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { captureLogger, startWebhookReceiver, type WebhookReceiver } from '@herald/test-support';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function hangingSetup(maxInFlight: number) {
  const rx: WebhookReceiver = await startWebhookReceiver(undefined, () => 'hang');
  cleanups.push(() => rx.close());
  const app: WebhookApp = { id: 'app1', key: 'key1', secret: 'secret-0123456789abcdef', webhooks: [{ url: rx.url }] };
  const log = captureLogger();
  const drops: { appId: string; events: readonly WebhookEventName[]; reason: WebhookDropReason }[] = [];
  const dispatcher = new WebhookDispatcher({
    apps: (id) => (id === app.id ? app : undefined),
    delayMs: 0,
    maxBatchSize: 1,
    maxInFlight,
    flushTimeoutMs: 200,
    retry: { attemptTimeoutMs: 60_000 },
    onDropped: (appId, events, reason) => drops.push({ appId, events, reason }),
    log,
  });
  cleanups.push(() => dispatcher.close());
  const send = (n: number) => dispatcher.clientEvent(app.id, { channel: 'private-c', event: 'client-n', data: String(n), socketId: '1.1' });
  return { rx, dispatcher, log, drops, send };
}

describe('WebhookDispatcher maxInFlight', () => {
  it('drops a batch beyond maxInFlight while the receiver hangs: counted, reported, logged', async () => {
    const t = await hangingSetup(2);
    t.send(1);
    await expect.poll(() => t.rx.requests.length).toBe(1);
    t.send(2);
    await expect.poll(() => t.rx.requests.length).toBe(2);
    t.send(3);
    expect(t.dispatcher.stats().dropped).toBe(1);
    expect(t.drops).toEqual([{ appId: 'app1', events: ['client_event'], reason: 'in_flight_full' }]);
    const warns = t.log.entries.filter((e) => e.level === 'warn' && /dropped/.test(e.msg));
    expect(warns).toHaveLength(1);
    expect(warns[0]!.obj).toMatchObject({ appId: 'app1', events: ['client_event'], maxInFlight: 2 });
    // The two in flight are untouched; the third was never sent.
    expect(t.dispatcher.stats().pending).toBe(2);
    expect(t.rx.requests.map((r) => (JSON.parse(r.rawBody) as { events: { data: string }[] }).events[0]!.data)).toEqual(['1', '2']);
  });

  it('a flood of drops logs one line a second per app, and counts every event', async () => {
    const t = await hangingSetup(1);
    t.send(0);
    await expect.poll(() => t.rx.requests.length).toBe(1);
    const started = Date.now();
    for (let i = 1; i <= 500; i++) t.send(i);
    const seconds = (Date.now() - started) / 1000;
    expect(t.dispatcher.stats().dropped).toBe(500);
    expect(t.drops.flatMap((d) => d.events)).toHaveLength(500);
    const warns = t.log.entries.filter((e) => e.level === 'warn' && /dropped/.test(e.msg));
    expect(warns.length).toBeGreaterThanOrEqual(1);
    // one line a second at most, however long the loop took on a busy machine (not one per drop: 500)
    expect(warns.length).toBeLessThanOrEqual(Math.floor(seconds) + 1);
  });
});
