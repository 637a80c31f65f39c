import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Pusher from 'pusher';

/** Anything that validates a webhook as the official SDK does (`pusher.webhook(...).isValid()`). */
export interface WebhookVerifier {
  webhook(req: { headers: Record<string, string>; rawBody: string }): { isValid(): boolean };
}

/** App credentials; the receiver then validates with an official SDK of its own. */
export interface WebhookApp {
  id: string;
  key: string;
  secret: string;
}

export type WebhookEventRecord = Record<string, unknown> & { name?: string; channel?: string; user_id?: string };

/** One request the receiver got, answered or not. */
export interface WebhookRequest {
  /** Arrival time (Date.now()). */
  at: number;
  /** When the answer was sent; undefined while it is pending (held, hanging or still being decided). */
  answeredAt?: number;
  /** The status decided for it; 0 until `respond` has decided. */
  status: number;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** Header names as sent on the wire, in order, with values. */
  rawHeaders: string[];
  /** The body's bytes as received. */
  bytes: Buffer;
  rawBody: string;
  /** The body parsed as a webhook; `{ time_ms: 0, events: [] }` for one that is not JSON. */
  body: { time_ms: number; events: WebhookEventRecord[] };
  /** The events of the body (`body.events`). */
  events: WebhookEventRecord[];
  /** The signature checked with the official SDK; false when the receiver has no verifier. */
  valid: boolean;
  /** X-Herald-Webhook-Id. */
  webhookId: string;
  /** X-Herald-Event-Ids, one per event: a re-delivery carries the same ids. */
  eventIds: string[];
}

/**
 * The status to answer with, or 'hang' to never answer. `n` counts the receiver's requests from 0.
 * A promise holds the answer until it settles (a slow endpoint).
 */
export type Respond = (n: number, req: WebhookRequest) => number | 'hang' | Promise<number | 'hang'>;

export interface WebhookReceiver extends AsyncDisposable {
  url: string;
  /** Every request, in arrival order, whatever it was answered. */
  requests: WebhookRequest[];
  /** The requests answered (or being answered) with a 2xx. */
  delivered(): WebhookRequest[];
  /** Every event of `delivered()`, flattened, in arrival order. */
  events(): WebhookEventRecord[];
  /** The event ids of `delivered()`, for duplicate detection. */
  ids(): string[];
  /** The events of `delivered()` once each: a re-delivery carries the same event id. */
  unique(): WebhookEventRecord[];
  /** 'down': answer 503 to everything (whatever `respond` says) until set 'up' again. */
  setMode(mode: 'up' | 'down'): void;
  /** From now on, answers are decided (and recorded) on arrival but sent only on `release()`. */
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

const isVerifier = (v: WebhookVerifier | WebhookApp): v is WebhookVerifier => typeof (v as WebhookVerifier).webhook === 'function';

function parseBody(raw: string): WebhookRequest['body'] {
  try {
    const parsed = JSON.parse(raw) as Partial<WebhookRequest['body']> | null;
    return { time_ms: parsed?.time_ms ?? 0, events: Array.isArray(parsed?.events) ? parsed.events : [] };
  } catch {
    /* not a webhook body: recorded as sent, with no events */
    return { time_ms: 0, events: [] };
  }
}

/**
 * The one webhook endpoint of the tests: a real HTTP server on 127.0.0.1, port 0, that records every
 * request (raw bytes, header names as sent, arrival and answer times) and checks its signature with
 * the official `pusher` SDK when given an SDK (or anything with its `webhook()` validator) or an
 * app's credentials. It can fail on purpose (`respond`), play dead (`setMode('down')`), answer late
 * (`respond` returning a promise, or `hold()` / `release()`) or never ('hang').
 */
export async function startWebhookReceiver(verifier?: WebhookVerifier | WebhookApp, respond: Respond = () => 200): Promise<WebhookReceiver> {
  const sdk: WebhookVerifier | undefined =
    verifier === undefined
      ? undefined
      : isVerifier(verifier)
        ? verifier
        : new Pusher({ appId: verifier.id, key: verifier.key, secret: verifier.secret, cluster: 'mt1' });
  const requests: WebhookRequest[] = [];
  let mode: 'up' | 'down' = 'up';
  let held: (() => void)[] | undefined;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const bytes = Buffer.concat(chunks);
      const rawBody = bytes.toString('utf8');
      const body = parseBody(rawBody);
      const n = requests.length;
      const received: WebhookRequest = {
        at: Date.now(),
        status: 0,
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        bytes,
        rawBody,
        body,
        events: body.events,
        valid: sdk?.webhook({ headers: req.headers as Record<string, string>, rawBody }).isValid() ?? false,
        webhookId: String(req.headers['x-herald-webhook-id']),
        eventIds: String(req.headers['x-herald-event-ids'] ?? '')
          .split(',')
          .filter(Boolean),
      };
      requests.push(received);
      const answer = (status: number) => {
        received.answeredAt = Date.now();
        if (!res.destroyed) res.writeHead(status, { 'content-type': 'text/plain' }).end(String(status));
      };
      const decide = (status: number | 'hang') => {
        if (status === 'hang') return;
        received.status = status;
        if (held) held.push(() => answer(status));
        else answer(status);
      };
      if (mode === 'down') decide(503);
      else {
        const decided = respond(n, received);
        if (typeof decided === 'object') void decided.then(decide);
        else decide(decided);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const delivered = () => requests.filter((r) => r.status >= 200 && r.status < 300);
  const close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    requests,
    delivered,
    events: () => delivered().flatMap((r) => r.events),
    ids: () => delivered().flatMap((r) => r.eventIds),
    unique: () => {
      const seen = new Set<string>();
      const out: WebhookEventRecord[] = [];
      for (const r of delivered()) {
        r.events.forEach((e, i) => {
          const id = r.eventIds[i]!;
          if (!seen.has(id)) out.push(e);
          seen.add(id);
        });
      }
      return out;
    },
    setMode: (m) => void (mode = m),
    hold: () => void (held = []),
    release: () => {
      for (const send of held ?? []) send();
      held = undefined;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
