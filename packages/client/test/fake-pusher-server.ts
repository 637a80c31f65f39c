import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { rawDataText } from '@herald/test-support';

/**
 * Just enough of a Pusher server to test message recovery from the client side: it sends
 * `connection_established`, records every frame, and lets the test answer subscribes (with or
 * without `position` / `recovery`), send events (with or without `position`) and drop the socket.
 */

export interface ClientFrame {
  event: string;
  channel?: string;
  data?: unknown;
}

/** The `data` of a `pusher:subscribe`. */
export interface SubscribeData {
  channel: string;
  auth?: string;
  channel_data?: string;
  position?: string;
}

/** One client socket, server side. */
export class ServerConn {
  readonly frames: ClientFrame[] = [];
  private waiters: Array<() => void> = [];

  constructor(
    readonly ws: WebSocket,
    readonly socketId: string,
  ) {
    ws.on('message', (raw) => {
      const f = JSON.parse(rawDataText(raw)) as ClientFrame;
      if (f.event === 'pusher:ping') this.send({ event: 'pusher:pong', data: '{}' });
      this.frames.push(f);
      for (const w of this.waiters.splice(0)) w();
    });
    this.send({ event: 'pusher:connection_established', data: JSON.stringify({ socket_id: socketId, activity_timeout: 120 }) });
  }

  send(frame: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** Resolves with the first recorded frame (from `from` on) that `match` accepts. */
  async waitFor(match: (f: ClientFrame) => boolean, from = 0, timeoutMs = 10_000): Promise<ClientFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.slice(from).find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching frame; got ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The `pusher:subscribe` for `channel` (the n-th one on this socket, 0-based). */
  async subscribeOf(channel: string, n = 0): Promise<SubscribeData> {
    let seen = -1;
    const f = await this.waitFor((f) => f.event === 'pusher:subscribe' && (f.data as SubscribeData).channel === channel && ++seen === n);
    return f.data as SubscribeData;
  }

  /** `pusher_internal:subscription_succeeded`, with the top-level fields given (`position`, `recovery`). */
  succeed(channel: string, extra: Record<string, unknown> = {}, data: unknown = '{}'): void {
    this.send({ event: 'pusher_internal:subscription_succeeded', channel, data, ...extra });
  }

  /** An app event; `position` only when given (channels without history have none). */
  event(channel: string, event: string, data: unknown, position?: string): void {
    this.send({ event, channel, data: JSON.stringify(data), ...(position === undefined ? {} : { position }) });
  }

  /** Closes with 4200 ("reconnect now" for both push.js and pusher-js). */
  drop(code = 4200): void {
    this.ws.close(code, 'test drop');
  }
}

export class FakePusherServer {
  readonly conns: ServerConn[] = [];
  private waiters: Array<() => void> = [];

  private constructor(
    private readonly wss: WebSocketServer,
    readonly port: number,
  ) {
    wss.on('connection', (ws) => {
      this.conns.push(new ServerConn(ws, `${this.conns.length + 1}.${Math.floor(Math.random() * 1e6)}`));
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async start(): Promise<FakePusherServer> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    return new FakePusherServer(wss, (wss.address() as AddressInfo).port);
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** The n-th connection (0-based), once it is open. */
  async conn(n: number, timeoutMs = 10_000): Promise<ServerConn> {
    const deadline = Date.now() + timeoutMs;
    while (!this.conns[n]) {
      if (Date.now() > deadline) throw new Error(`connection ${n} never came (${this.conns.length} so far)`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.conns[n];
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
