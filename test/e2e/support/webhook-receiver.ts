import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Pusher from 'pusher';
import type { TestApp } from './node-process.js';

export interface ReceivedHook {
  at: number;
  status: number;
  /** The signature verified with the official SDK. */
  valid: boolean;
  webhookId: string;
  eventIds: string[];
  events: Record<string, unknown>[];
}

/**
 * A webhook endpoint for the clustered webhook tests. It verifies every request with the official
 * SDK and records the ones it accepts. It can play dead (`setMode('down')`: 503, nothing recorded)
 * or be slow (between `hold()` and `release()` requests are recorded on arrival but answered only on
 * release, so that the worker has a batch in flight and more events waiting behind it).
 */
export async function startVerifyingReceiver(app: TestApp) {
  const sdk = new Pusher({ appId: app.id, key: app.key, secret: app.secret, cluster: 'mt1' });
  const hooks: ReceivedHook[] = [];
  let mode: 'up' | 'down' = 'up';
  let held: (() => void)[] | undefined;
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const status = mode === 'up' ? 200 : 503;
      if (status === 200) {
        hooks.push({
          at: Date.now(),
          status,
          valid: sdk.webhook({ headers: req.headers as Record<string, string>, rawBody: raw }).isValid(),
          webhookId: String(req.headers['x-herald-webhook-id']),
          eventIds: String(req.headers['x-herald-event-ids'] ?? '').split(',').filter(Boolean),
          events: (JSON.parse(raw) as { events: Record<string, unknown>[] }).events,
        });
      }
      res.statusCode = status;
      if (held) held.push(() => res.end());
      else res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    hooks,
    events: () => hooks.flatMap((h) => h.events),
    /** Events with their stable ids, for duplicate detection. */
    ids: () => hooks.flatMap((h) => h.eventIds),
    /** Events once each: a re-delivery carries the same event id (X-Herald-Event-Ids). */
    unique: () => {
      const seen = new Set<string>();
      const out: Record<string, unknown>[] = [];
      for (const h of hooks) {
        h.events.forEach((e, i) => {
          const id = h.eventIds[i]!;
          if (!seen.has(id)) out.push(e);
          seen.add(id);
        });
      }
      return out;
    },
    setMode: (m: 'up' | 'down') => (mode = m),
    hold: () => void (held = []),
    release: () => {
      for (const answer of held ?? []) answer();
      held = undefined;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
