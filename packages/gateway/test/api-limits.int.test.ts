import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '@herald/test-support';

/** A raw TCP connection to the API port that records what the server sends and when it closes. */
function open(t: TestGateway): Promise<{ s: Socket; received: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const s = connect(t.apiPort, '127.0.0.1');
    let text = '';
    s.on('data', (c: Buffer) => (text += c.toString('latin1')));
    s.on('error', () => undefined);
    const closed = new Promise<void>((r) => s.on('close', () => r()));
    s.once('connect', () => resolve({ s, received: () => text, closed }));
    s.once('error', reject);
  });
}

const limitCount = async (t: TestGateway, limit: string) => {
  const text = await (await fetch(`${t.apiUrl}/metrics`)).text();
  const m = new RegExp(`herald_limit_refusals_total\\{limit="${limit}",[^}]*\\} (\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
};

const bodyOf = (raw: string) => JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as unknown;

describe('API listener: slow and excess clients', () => {
  it('a body trickled slower than the request timeout: 408 with the error body, connection closed, counted', async () => {
    await using t = await startTestGateway({ api: { headersTimeoutMs: 500, requestTimeoutMs: 1000, maxConnections: 100 } });
    const c = await open(t);
    c.s.write(`POST /apps/${t.app.id}/events?auth_key=x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"na`);
    // One byte now and then: never idle, never complete.
    const drip = setInterval(() => c.s.writable && c.s.write('a'), 100);
    await c.closed;
    clearInterval(drip);
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(bodyOf(c.received())).toEqual({ error: 'Request timeout', code: 408, error_code: 'PUSH_ERR_REQUEST_TIMEOUT' });
    expect(await limitCount(t, 'api_request_timeout')).toBe(1);
  });

  it('headers trickled slower than the headers timeout: 408, closed, counted', async () => {
    await using t = await startTestGateway({ api: { headersTimeoutMs: 500, requestTimeoutMs: 60_000, maxConnections: 100 } });
    const c = await open(t);
    c.s.write('GET /ready HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => c.s.writable && c.s.write('X-Slow: a\r\n'), 100);
    await c.closed;
    clearInterval(drip);
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(await limitCount(t, 'api_request_timeout')).toBe(1);
  });

  it('connections beyond the cap are closed at once and counted; others are served, and a freed slot is usable', async () => {
    await using t = await startTestGateway({ api: { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, maxConnections: 5 } });
    const held = await Promise.all(Array.from({ length: 5 }, () => open(t)));
    // The server accepted the five (an incomplete request on each keeps them open).
    for (const h of held) h.s.write('GET /ready HTTP/1.1\r\nHost: x\r\n');
    const extra = await open(t);
    await extra.closed;
    expect(extra.received()).toBe('');
    expect(
      await (async () => {
        for (const h of held) h.s.destroy();
        await Promise.all(held.map((h) => h.closed));
        // Node counts a connection until its close is processed: wait for a served request.
        for (;;) {
          try {
            const r = await fetch(`${t.apiUrl}/ready`);
            if (r.status === 200) return limitCount(t, 'api_connections');
          } catch {
            /* still at the cap: the fetch's connection was dropped */
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      })(),
    ).toBeGreaterThanOrEqual(1);
  });

  it('an ordinary signed trigger with a body is served within the limits', async () => {
    await using t = await startTestGateway({ api: { headersTimeoutMs: 500, requestTimeoutMs: 1000, maxConnections: 100 } });
    await expect(t.sdk.trigger('lobby', 'ev', { a: 1 })).resolves.toMatchObject({ status: 200 });
    expect(await limitCount(t, 'api_request_timeout')).toBe(0);
  });
});
