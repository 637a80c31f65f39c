import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import Pusher from 'pusher';
import PusherJs from 'pusher-js';
import WebSocket from 'ws';
import { freePort } from '../../../broker/test/support/ports.js';
import { startGateway, parseAppsJson, type App, type Gateway } from '@herald/gateway';

export type PusherClient = InstanceType<typeof PusherJs>;

export interface AppInput {
  id?: string;
  key?: string;
  secret?: string;
  webhooks?: { url: string; events?: string[]; channel_prefix?: string; format?: 'pusher' | 'webman' }[];
  [limitOrSwitch: string]: unknown;
}

export interface TestGateway extends AsyncDisposable {
  gw: Gateway;
  app: App;
  wsPort: number;
  apiPort: number;
  apiUrl: string;
  /** The official Node server SDK, configured for the first app. */
  sdk: Pusher;
  sdkFor(app: App): Pusher;
  close(): Promise<void>;
}

const randomApp = (i: number): Required<Pick<AppInput, 'id' | 'key' | 'secret'>> => ({
  id: String(1000 + i),
  key: `key${i}-${randomBytes(6).toString('hex')}`,
  secret: randomBytes(16).toString('hex'),
});

/** A real gateway in this process on free ports, with random credentials; closed on dispose. */
export async function startTestGateway(opts: {
  apps?: AppInput[];
  webhookDelayMs?: number;
  activityTimeout?: number;
  timers?: { pongWaitMs?: number; sweepMs?: number };
  maxPayloadLength?: number;
  maxBackpressure?: number;
  logLevel?: string;
  maxConnectionsPerSecond?: number;
  maxQueuedFrames?: number;
  api?: { headersTimeoutMs: number; requestTimeoutMs: number; maxConnections: number };
  /** Clustered mode on this Redis (a fresh key prefix per gateway unless given). */
  redis?: { url: string; prefix?: string; leaseMs?: number };
} = {}): Promise<TestGateway> {
  const inputs = opts.apps ?? [{}];
  const apps = parseAppsJson(JSON.stringify(inputs.map((a, i) => ({ ...randomApp(i), ...a }))), 'test apps');
  const log = pino({ level: opts.logLevel ?? process.env.TEST_LOG_LEVEL ?? 'silent' });
  const gw = await startGateway(
    {
      nodeId: 'test-node',
      host: '127.0.0.1',
      apiHost: '127.0.0.1',
      wsPort: 0,
      apiPort: 0,
      activityTimeout: opts.activityTimeout ?? 30,
      webhookDelayMs: opts.webhookDelayMs ?? 1000,
      allowUwsFallback: false,
      drainMs: 0,
      ws: { maxBackpressure: opts.maxBackpressure ?? 1024 * 1024, maxPayloadLength: opts.maxPayloadLength ?? 64 * 1024 },
      apps,
      ...(opts.timers ? { timers: opts.timers } : {}),
      ...(opts.maxConnectionsPerSecond !== undefined ? { maxConnectionsPerSecond: opts.maxConnectionsPerSecond } : {}),
      ...(opts.maxQueuedFrames !== undefined ? { maxQueuedFrames: opts.maxQueuedFrames } : {}),
      ...(opts.api ? { api: opts.api } : {}),
      ...(opts.redis
        ? {
            redis: {
              topology: { kind: 'single' as const, url: opts.redis.url },
              prefix: opts.redis.prefix ?? `t-${randomBytes(6).toString('hex')}`,
              leaseMs: opts.redis.leaseMs ?? 10_000,
            },
          }
        : {}),
    },
    log,
  );
  const sdkFor = (app: App) =>
    new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(gw.apiPort), useTLS: false });
  const close = () => gw.close();
  return {
    gw,
    app: gw.apps.apps[0]!,
    wsPort: gw.wsPort,
    apiPort: gw.apiPort,
    apiUrl: `http://127.0.0.1:${gw.apiPort}`,
    sdk: sdkFor(gw.apps.apps[0]!),
    sdkFor,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A small app server with the two endpoints pusher-js calls: channel auth and user auth. */
export async function startAuthServer(
  sdk: Pusher,
  opts: {
    /** Presence identity for a request; defaults to user `u-<socket_id>`. */
    presence?: (req: { socketId: string; channel: string; body: URLSearchParams; headers: IncomingMessage['headers'] }) => { user_id: string; user_info?: unknown };
    user?: (socketId: string, body: URLSearchParams) => { id: string; user_info?: unknown; watchlist?: string[] };
    /** Refuse channel auth (403) when this returns false. */
    allow?: (channel: string, body: URLSearchParams) => boolean;
  } = {},
): Promise<{ url: string; authEndpoint: string; userAuthEndpoint: string; requests: URLSearchParams[]; close(): Promise<void> } & AsyncDisposable> {
  const requests: URLSearchParams[] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const body = new URLSearchParams(raw);
      requests.push(body);
      const socketId = body.get('socket_id') ?? '';
      res.setHeader('Access-Control-Allow-Origin', '*');
      res.setHeader('Content-Type', 'application/json');
      try {
        if (req.url?.startsWith('/pusher/user-auth')) {
          const user = opts.user?.(socketId, body) ?? { id: `u-${socketId}` };
          res.end(JSON.stringify(sdk.authenticateUser(socketId, user as never)));
          return;
        }
        const channel = body.get('channel_name') ?? '';
        if (opts.allow && !opts.allow(channel, body)) {
          res.statusCode = 403;
          res.end(JSON.stringify({ error: 'forbidden' }));
          return;
        }
        const presence = channel.startsWith('presence-')
          ? (opts.presence?.({ socketId, channel, body, headers: req.headers }) ?? { user_id: `u-${socketId}` })
          : undefined;
        res.end(JSON.stringify(sdk.authorizeChannel(socketId, channel, presence as never)));
      } catch (err) {
        res.statusCode = 500;
        res.end(JSON.stringify({ error: String(err) }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () => new Promise<void>((r) => server.close(() => r()));
  return { url, authEndpoint: `${url}/pusher/auth`, userAuthEndpoint: `${url}/pusher/user-auth`, requests, close, [Symbol.asyncDispose]: close };
}

/** An unmodified pusher-js (Node build) client pointed at the gateway. */
export function connectPusherJs(
  t: Pick<TestGateway, 'wsPort'> & { app: Pick<App, 'key'> },
  opts: { authEndpoint?: string; userAuthEndpoint?: string; key?: string } = {},
): PusherClient {
  return new PusherJs(opts.key ?? t.app.key, {
    cluster: '',
    wsHost: '127.0.0.1',
    wsPort: t.wsPort,
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
    ...(opts.authEndpoint ? { channelAuthorization: { endpoint: opts.authEndpoint, transport: 'ajax' as const } } : {}),
    ...(opts.userAuthEndpoint ? { userAuthentication: { endpoint: opts.userAuthEndpoint, transport: 'ajax' as const } } : {}),
  });
}

export function waitForState(client: PusherClient, state: string, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (client.connection.state === state) return resolve();
    const timer = setTimeout(() => reject(new Error(`pusher-js never reached ${state} (is ${client.connection.state})`)), timeoutMs);
    const cb = (s: { current: string }) => {
      if (s.current === state) {
        clearTimeout(timer);
        client.connection.unbind('state_change', cb);
        resolve();
      }
    };
    client.connection.bind('state_change', cb);
  });
}

/** Subscribes and resolves on pusher:subscription_succeeded (rejects on subscription_error). */
export function subscribeAndWait(client: PusherClient, channel: string, timeoutMs = 15_000) {
  const ch = client.subscribe(channel);
  return new Promise<typeof ch>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`subscription to ${channel} timed out`)), timeoutMs);
    ch.bind('pusher:subscription_succeeded', () => {
      clearTimeout(timer);
      resolve(ch);
    });
    ch.bind('pusher:subscription_error', (e: unknown) => {
      clearTimeout(timer);
      reject(new Error(`subscription to ${channel} failed: ${JSON.stringify(e)}`));
    });
  });
}

export interface Frame {
  event: string;
  channel?: string;
  data?: unknown;
  user_id?: string;
}

/** A raw WebSocket client (the `ws` package) that records every frame and the close code. */
export class RawClient implements AsyncDisposable {
  readonly frames: Frame[] = [];
  readonly rawFrames: string[] = [];
  closeCode: number | undefined;
  readonly closed: Promise<number>;
  readonly opened: Promise<void>;
  socketId = '';

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => ws.on('close', (code) => resolve((this.closeCode = code))));
    this.opened = new Promise((resolve, reject) => {
      ws.on('open', () => resolve());
      ws.on('error', reject);
    });
    ws.on('message', (buf, isBinary) => {
      const text = buf.toString();
      this.rawFrames.push(text);
      if (isBinary) return;
      const f = JSON.parse(text) as Frame;
      if (f.event === 'pusher:connection_established') {
        this.socketId = (JSON.parse(f.data as string) as { socket_id: string }).socket_id;
      }
      this.frames.push(f);
    });
  }

  static async connect(url: string): Promise<RawClient> {
    const c = new RawClient(new WebSocket(url));
    await c.opened;
    return c;
  }

  /** Connects to /app/{key} and waits for connection_established. */
  static async established(t: Pick<TestGateway, 'wsPort'> & { app: Pick<App, 'key'> }, query = '?protocol=7&client=js&version=8.6.0'): Promise<RawClient> {
    const c = await RawClient.connect(`ws://127.0.0.1:${t.wsPort}/app/${t.app.key}${query}`);
    await c.waitFor((f) => f.event === 'pusher:connection_established');
    return c;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Waits for a frame matching `pred` (already received ones count). */
  async waitFor(pred: (f: Frame) => boolean, timeoutMs = 15_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = this.frames.find(pred);
      if (f) return f;
      if (Date.now() > deadline) throw new Error(`frame not received; got ${JSON.stringify(this.frames.map((x) => x.event))}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  events(name: string): Frame[] {
    return this.frames.filter((f) => f.event === name);
  }

  async subscribe(channel: string, extra: Record<string, unknown> = {}): Promise<Frame> {
    this.send({ event: 'pusher:subscribe', data: { auth: '', channel, ...extra } });
    return this.waitFor((f) => f.channel === channel && (f.event === 'pusher_internal:subscription_succeeded' || f.event === 'pusher:subscription_error'));
  }

  close(): void {
    this.ws.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close();
      await this.closed;
    }
  }
}

export interface ReceivedWebhook {
  at: number;
  valid: boolean;
  headers: IncomingMessage['headers'];
  rawBody: string;
  body: { time_ms: number; events: Record<string, unknown>[] };
}

/**
 * A webhook receiver that checks every request with the official SDK's validator
 * (`pusher.webhook({ headers, rawBody }).isValid()`).
 */
export async function startWebhookReceiver(sdk: Pusher, respond: (n: number) => number = () => 200) {
  const received: ReceivedWebhook[] = [];
  let n = 0;
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const valid = sdk.webhook({ headers: req.headers as Record<string, string>, rawBody: raw }).isValid();
      const status = respond(n++);
      if (status >= 200 && status < 300) {
        received.push({ at: Date.now(), valid, headers: req.headers, rawBody: raw, body: JSON.parse(raw) });
      }
      res.statusCode = status;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`;
  const close = () => new Promise<void>((r) => server.close(() => r()));
  return {
    url,
    received,
    /** Every event received, flattened, in arrival order. */
    events: () => received.flatMap((r) => r.body.events),
    close,
    [Symbol.asyncDispose]: close,
  };
}

export { freePort };
