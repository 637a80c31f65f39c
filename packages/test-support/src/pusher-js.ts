import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Pusher from 'pusher';
import pusherJsModule from 'pusher-js';
import type { App } from '@herald/gateway';
import type { TestGateway } from './gateway.js';

/**
 * pusher-js's constructor. Its typings declare an ES `export default`, but the Node build is
 * CommonJS with `module.exports = Pusher`, so an ES default import is the class itself, not the
 * `{ default }` object the typings describe under NodeNext resolution.
 */
export const PusherJs = pusherJsModule as unknown as typeof pusherJsModule.default;
export type PusherClient = InstanceType<typeof PusherJs>;

/** A small app server with the two endpoints pusher-js calls: channel auth and user auth. */
export async function startAuthServer(
  sdk: Pusher,
  opts: {
    /** Presence identity for a request; defaults to user `u-<socket_id>`. */
    presence?: (req: { socketId: string; channel: string; body: URLSearchParams; headers: IncomingMessage['headers'] }) => {
      user_id: string;
      user_info?: unknown;
    };
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
          res.end(JSON.stringify(sdk.authenticateUser(socketId, user)));
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
  opts: { authEndpoint?: string; userAuthEndpoint?: string; key?: string; transport?: 'ws' | 'xhr_streaming' | 'xhr_polling' } = {},
): PusherClient {
  return new PusherJs(opts.key ?? t.app.key, {
    cluster: '',
    wsHost: '127.0.0.1',
    wsPort: t.wsPort,
    // pusher-js's HTTP fallbacks go to httpHost:httpPort under httpPath (/pusher): the WebSocket port.
    httpHost: '127.0.0.1',
    httpPort: t.wsPort,
    forceTLS: false,
    enabledTransports: [opts.transport ?? 'ws'],
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
