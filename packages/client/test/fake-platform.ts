import type { HttpRequest, HttpResponse, HttpStreamClient, HttpStreamHandlers, NetworkMonitor, Platform, Socket, SocketHandlers } from '../src/transport.js';

export interface SentFrame {
  event: string;
  channel?: string;
  data?: unknown;
}

/** The server side of one fake socket: what the client sent, and buttons to answer it. */
export class FakeSocket implements Socket {
  readonly sent: SentFrame[] = [];
  closedByClient: { code?: number; reason?: string } | undefined;

  constructor(
    readonly url: string,
    private readonly h: SocketHandlers,
  ) {}

  send(text: string): void {
    if (this.closedByClient) throw new Error('send on a closed socket');
    this.sent.push(JSON.parse(text) as SentFrame);
  }

  close(code?: number, reason?: string): void {
    this.closedByClient = { code, reason };
  }

  open(): void {
    this.h.onOpen();
  }

  receive(frame: object | string): void {
    this.h.onMessage(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Opens and sends `pusher:connection_established`. */
  establish(socketId = '1.1', activityTimeout = 120): void {
    this.open();
    this.receive({ event: 'pusher:connection_established', data: JSON.stringify({ socket_id: socketId, activity_timeout: activityTimeout }) });
  }

  succeed(channel: string, data: string = '{}'): void {
    this.receive({ event: 'pusher_internal:subscription_succeeded', channel, data });
  }

  serverClose(code: number, reason = ''): void {
    this.h.onClose({ code, reason });
  }

  error(): void {
    this.h.onError(new Error('fake socket error'));
  }

  events(name: string): SentFrame[] {
    return this.sent.filter((f) => f.event === name);
  }
}

interface FakeHttpCall {
  req: HttpRequest;
  body: URLSearchParams;
}

/** A platform whose sockets, HTTP calls and network state the test drives by hand. */
export function createFakePlatform(http: (req: HttpRequest) => HttpResponse | Promise<HttpResponse> = () => ({ status: 404, body: '' })) {
  const sockets: FakeSocket[] = [];
  const calls: FakeHttpCall[] = [];
  let online = true;
  const listeners = new Set<(online: boolean) => void>();
  const network: NetworkMonitor = {
    isOnline: () => online,
    subscribe(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
  const platform: Platform = {
    transport: {
      connect(url, h) {
        const s = new FakeSocket(url, h);
        sockets.push(s);
        return s;
      },
    },
    http: async (req) => {
      calls.push({ req, body: new URLSearchParams(req.body) });
      return http(req);
    },
    network,
  };
  return {
    platform,
    sockets,
    calls,
    /** The most recent socket. */
    get socket(): FakeSocket {
      const s = sockets[sockets.length - 1];
      if (!s) throw new Error('no socket opened yet');
      return s;
    },
    setOnline(next: boolean) {
      online = next;
      for (const l of [...listeners]) l(next);
    },
    networkListeners: () => listeners.size,
  };
}

export const json = (status: number, body: unknown): HttpResponse => ({ status, body: JSON.stringify(body) });

/** One request of a fake `HttpStreamClient`: the test plays the server's answer. */
class FakeExchange {
  aborted = false;

  constructor(
    readonly req: HttpRequest,
    private readonly h: HttpStreamHandlers,
  ) {}

  /** The last path segment: `xhr_streaming`, `xhr` or `xhr_send`. */
  get kind(): string {
    return /\/([a-z_]+)(\?|$)/.exec(this.req.url)![1]!;
  }

  answer(text: string, status = 200): this {
    this.h.onStatus(status);
    if (text !== '') this.h.onText(text);
    return this;
  }

  more(text: string): this {
    this.h.onText(text);
    return this;
  }

  end(): void {
    this.h.onEnd();
  }

  error(): void {
    this.h.onError(new Error('connection reset'));
  }
}

/** A fake HTTP client for the fallback transports: requests are recorded and answered by the test. */
export function createFakeHttpStream(streaming = true) {
  const exchanges: FakeExchange[] = [];
  const client: HttpStreamClient = {
    streaming,
    request(req, h) {
      const x = new FakeExchange(req, h);
      exchanges.push(x);
      return { abort: () => (x.aborted = true) };
    },
  };
  return {
    client,
    exchanges,
    /** Requests of one kind (`xhr_streaming`, `xhr`, `xhr_send`), oldest first. */
    of: (kind: string) => exchanges.filter((x) => x.kind === kind),
    last: (kind: string) => exchanges.filter((x) => x.kind === kind).at(-1)!,
    /** The frames of every `xhr_send` so far, parsed. */
    sent: () => exchanges.filter((x) => x.kind === 'xhr_send').flatMap((x) => (JSON.parse(x.req.body) as string[]).map((f) => JSON.parse(f) as SentFrame)),
  };
}

/** An `a` line carrying these frames (objects are JSON-encoded first). */
export const framesLine = (...frames: Array<object | string>) => `a${JSON.stringify(frames.map((f) => (typeof f === 'string' ? f : JSON.stringify(f))))}\n`;
