import WebSocket from 'ws';
import type { App } from '@herald/gateway';
import type { TestGateway } from './gateway.js';

export interface Frame {
  event: string;
  channel?: string;
  data?: unknown;
  user_id?: string;
}

/**
 * A `ws` message as text. Under ws's default binaryType ('nodebuffer') it is one Buffer; the
 * ArrayBuffer and fragment-list shapes of the other binary types are joined the same way.
 */
export function rawDataText(data: WebSocket.RawData): string {
  return (Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString();
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
      const text = rawDataText(buf);
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
