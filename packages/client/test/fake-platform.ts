import type { HttpRequest, HttpResponse, NetworkMonitor, Platform, Socket, SocketHandlers } from '../src/transport.js';

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
