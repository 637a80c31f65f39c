import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { originAllowed } from '../src/origin.js';
import { metric as readMetric, RawClient, rawDataText, startTestGateway } from '@herald/test-support';

/** Counters not yet incremented are absent from the exposition: read them as 0. */
const metric = async (apiUrl: string, name: string) => (await readMetric(apiUrl, name)) ?? 0;

describe('admission control and abuse limits', () => {
  it('refuses connections over the per-node rate with 4100, and accepts again the next second', async () => {
    await using t = await startTestGateway({ maxConnectionsPerSecond: 5 });
    const url = `ws://127.0.0.1:${t.wsPort}/app/${t.app.key}`;
    const started = Date.now();
    const clients = await Promise.all(Array.from({ length: 20 }, () => RawClient.connect(url)));
    try {
      await expect.poll(() => clients.filter((c) => c.socketId !== '' || c.closeCode !== undefined).length).toBe(20);
      // A window of one second opens at the first connection after the last one ended: a busy machine
      // may spread the burst over several, each admitting 5 (20 cannot fit in fewer than 4).
      const windows = Math.floor((Date.now() - started) / 1000) + 1;
      const refused = clients.filter((c) => c.closeCode === 4100);
      const open = clients.filter((c) => c.socketId !== '');
      expect(open.length + refused.length).toBe(20);
      expect(open.length).toBeLessThanOrEqual(5 * windows);
      expect(refused.length).toBeGreaterThanOrEqual(1);
      for (const c of refused) expect(c.frames[0]).toMatchObject({ event: 'pusher:error', data: { code: 4100 } });
      // The open ones are unaffected.
      expect(open.length).toBeGreaterThanOrEqual(5);
      await expect
        .poll(async () => {
          const c = await RawClient.connect(url);
          await c.waitFor((f) => f.event === 'pusher:connection_established' || f.event === 'pusher:error');
          const ok = c.socketId !== '';
          await c[Symbol.asyncDispose]();
          return ok;
        })
        .toBe(true);
      expect(await metric(t.apiUrl, 'herald_admission_refused_total')).toBeGreaterThanOrEqual(refused.length);
    } finally {
      for (const c of clients) await c[Symbol.asyncDispose]();
    }
  });

  it('checks Origin against the app allow-list', async () => {
    await using t = await startTestGateway({ apps: [{ allowedOrigins: ['https://app.example.com', '*.example.org'] }] });
    const open = (origin: string) =>
      new Promise<{ code?: number; frames: string[] }>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${t.wsPort}/app/${t.app.key}`, { origin });
        const frames: string[] = [];
        ws.on('message', (m) => {
          const text = rawDataText(m);
          frames.push(text);
          if (text.includes('connection_established')) {
            ws.close();
          }
        });
        ws.on('close', (code) => resolve({ code, frames }));
      });
    expect((await open('https://app.example.com')).frames[0]).toContain('connection_established');
    expect((await open('https://a.b.example.org')).frames[0]).toContain('connection_established');
    const bad = await open('https://evil.example.com');
    expect(bad.code).toBe(4009);
    expect(JSON.parse(bad.frames[0]!)).toMatchObject({ event: 'pusher:error', data: { code: 4009 } });
    expect(originAllowed(undefined, 'https://x')).toBe(true);
    expect(originAllowed(['*.example.org'], 'https://example.org.evil.com')).toBe(false);
    expect(originAllowed(['*.example.org'], 'not a url')).toBe(false);
  });

  it('rate-limits the REST API per app with 429, other apps unaffected', async () => {
    await using t = await startTestGateway({ apps: [{ maxApiRequestsPerSecond: 5 }, {}] });
    const [a, b] = t.gw.apps.apps;
    // At once, not one after the other: on a busy machine ten sequential requests could span two
    // clock seconds and all be allowed.
    const started = Date.now();
    const statuses = await Promise.all(
      Array.from({ length: 20 }, () =>
        t
          .sdkFor(a!)
          .trigger('x', 'e', {})
          .then(
            (r) => r.status,
            (e: { status: number }) => e.status,
          ),
      ),
    );
    const seconds = Math.floor((Date.now() - started) / 1000) + 2; // the clock seconds the burst touched
    const ok = statuses.filter((s) => s === 200).length;
    expect(ok).toBeGreaterThanOrEqual(5);
    expect(ok).toBeLessThanOrEqual(5 * seconds);
    expect(statuses.filter((s) => s === 429).length).toBe(20 - ok);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect((await t.sdkFor(b!).trigger('x', 'e', {})).status).toBe(200);
    expect(await metric(t.apiUrl, 'herald_api_rate_limited_total')).toBe(20 - ok);
  });

  it('closes a client that does not read (4100) without disturbing other subscribers', async () => {
    await using t = await startTestGateway({ maxBackpressure: 1024 * 1024, timers: { sweepMs: 200 } });
    await using good = await RawClient.established(t);
    await using slow = await RawClient.established(t);
    await good.subscribe('firehose');
    await slow.subscribe('firehose');
    // Stop reading: the kernel buffers fill, then the server's.
    (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    // Loopback socket buffers hold megabytes: send ~25 MB so that the server's own buffer grows.
    const data = 'x'.repeat(10_000);
    const batch = Array.from({ length: 10 }, () => ({ channel: 'firehose', name: 'big', data }));
    for (let i = 0; i < 250; i++) await t.sdk.triggerBatch(batch);
    await expect.poll(() => good.events('big').length, { timeout: 30_000 }).toBe(2500);
    await expect.poll(() => metric(t.apiUrl, 'herald_slow_consumers_closed_total')).toBe(1);
    expect(await metric(t.apiUrl, 'herald_limit_refusals_total')).toBe(1);
    expect(await (await fetch(`${t.apiUrl}/metrics`)).text()).toMatch(/^herald_limit_refusals_total\{limit="slow_consumer"[^}]*\} 1$/m);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    // The 4100 close frame queues behind the unread data; a client whose buffers are full sees the
    // connection end instead (1006). Either way it was cut, and got only part of the stream.
    expect([4100, 1006]).toContain(await slow.closed);
    expect(slow.events('big').length).toBeLessThan(2500);
    // The good subscriber is still served.
    await t.sdk.trigger('firehose', 'after', 'ok');
    await good.waitFor((f) => f.event === 'after');
  });
});
