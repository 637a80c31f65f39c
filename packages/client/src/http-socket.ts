import type { HttpStreamClient, HttpStreamHandlers, Socket, SocketHandlers, Transport } from './transport.js';

/**
 * pusher-js's HTTP transports as a `Socket` (docs/reference/client-fallback.md has the wire). A
 * session is `{base}/{server}/{session}`: receive requests (`xhr_streaming` keeps its answer open,
 * `xhr` ends at the first lines) bring lines, `o` (open), `a[...]` (frames), `h` (heartbeat) and
 * `c[code,"reason"]` (closed); `xhr_send` POSTs frames as a JSON array of strings.
 */
export type ReceiveMode = 'stream' | 'poll';

/**
 * A stream's text is kept by `XMLHttpRequest` until the request ends: past this many characters
 * the stream is replaced by a new request, which the server then writes to instead.
 */
export const MAX_STREAM_CHARS = 256 * 1024;

/** 16 characters of 32: 80 bits. The session id is all that ties requests to a connection, so it must not be guessable. */
const SESSION_ID_CHARS = 16;

/**
 * A CORS-safelisted type: a cross-origin page sends these POSTs without a preflight request. The
 * server reads the body as JSON whatever the type says.
 */
const HEADERS: Readonly<Record<string, string>> = { 'Content-Type': 'text/plain;charset=UTF-8' };

const IGNORE: HttpStreamHandlers = { onStatus: () => undefined, onText: () => undefined, onEnd: () => undefined, onError: () => undefined };

/** `crypto.getRandomValues` where the runtime has it (browsers, Node), else `Math.random`. */
function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  const c = (typeof crypto !== 'undefined' ? crypto : undefined) as { getRandomValues?: (a: Uint8Array) => Uint8Array } | undefined;
  if (c?.getRandomValues) return c.getRandomValues(out);
  for (let i = 0; i < n; i++) out[i] = Math.floor(Math.random() * 256);
  return out;
}

/** `{server}/{session}` as pusher-js's paths have them: a number below 1000, then the random id. */
function sessionPath(): string {
  const bytes = randomBytes(SESSION_ID_CHARS + 2);
  let id = '';
  for (let i = 0; i < SESSION_ID_CHARS; i++) id += (bytes[i]! % 32).toString(32);
  return `${((bytes[SESSION_ID_CHARS]! << 8) | bytes[SESSION_ID_CHARS + 1]!) % 1000}/${id}`;
}

/** One receive request and the lines it brought. */
interface Receive {
  abort(): void;
  /** Lines of a stream that replaced another: held until that one ended, so the order stays. */
  held: string[] | undefined;
  lines: number;
  chars: number;
}

/**
 * One HTTP session. The socket opens with the `o` line. The protocol has no close from the
 * client: the server closes a session 10 s after its client stopped asking for frames.
 */
class HttpSocket implements Socket {
  private readonly base: string;
  private readonly query: string;
  private state: 'connecting' | 'open' | 'closed' = 'connecting';
  private receiving: Receive | undefined;
  /** A stream being replaced: read to its end, which the server sends once the new one came. */
  private draining: Receive | undefined;
  private outbox: string[] = [];
  private sending: { abort(): void } | undefined;

  constructor(
    url: string,
    private readonly mode: ReceiveMode,
    private readonly client: HttpStreamClient,
    private readonly h: SocketHandlers,
  ) {
    const q = url.indexOf('?');
    this.base = `${q < 0 ? url : url.slice(0, q)}/${sessionPath()}`;
    this.query = q < 0 ? '' : url.slice(q);
    this.receive(false);
  }

  /** A getter, not `state === 'closed'` inline: a callback may close the socket mid-loop, which TypeScript's narrowing of `state` does not see. */
  private get closed(): boolean {
    return this.state === 'closed';
  }

  send(text: string): void {
    if (this.state !== 'open') throw new Error('HTTP session not open');
    this.outbox.push(text);
    this.pump();
  }

  close(): void {
    // Frames sent just before still go (push.disconnect() leaves its channels so): only the
    // receiving stops. Their answers no longer matter.
    const pending = this.outbox;
    this.sending = undefined;
    this.shutdown();
    if (pending.length > 0)
      this.client.request({ url: `${this.base}/xhr_send`, method: 'POST', headers: { ...HEADERS }, body: JSON.stringify(pending) }, IGNORE);
  }

  /** One `xhr_send` at a time, with everything queued meanwhile: the server gets the frames in order. */
  private pump(): void {
    if (this.sending !== undefined || this.outbox.length === 0 || this.closed) return;
    const body = JSON.stringify(this.outbox);
    this.outbox = [];
    let status = 0;
    this.sending = this.client.request(
      { url: `${this.base}/xhr_send`, method: 'POST', headers: { ...HEADERS }, body },
      {
        onStatus: (s) => (status = s),
        onText: () => undefined,
        onEnd: () => {
          this.sending = undefined;
          // 404: the server no longer has the session (it closed it, or lost it with a restart).
          if (status < 200 || status >= 300) return this.fail(`xhr_send answered HTTP ${status}`);
          this.pump();
        },
        onError: (error) => {
          this.sending = undefined;
          this.fail('xhr_send failed', error);
        },
      },
    );
  }

  /** Opens a receive request; `hold`: it replaces a stream still being read, so its lines wait. */
  private receive(hold: boolean): void {
    const r: Receive = { abort: () => undefined, held: hold ? [] : undefined, lines: 0, chars: 0 };
    this.receiving = r;
    let status = 0;
    let partial = '';
    const exchange = this.client.request(
      { url: `${this.base}/${this.mode === 'stream' ? 'xhr_streaming' : 'xhr'}${this.query}`, method: 'POST', headers: { ...HEADERS }, body: '' },
      {
        onStatus: (s) => (status = s),
        onText: (text) => {
          if (status !== 200 || this.closed) return;
          r.chars += text.length;
          const parts = (partial + text).split('\n');
          partial = parts.pop()!;
          for (const line of parts) {
            r.lines++;
            if (r.held) r.held.push(line);
            else this.line(line);
            if (this.closed) return;
          }
          if (this.mode === 'stream' && r === this.receiving && this.draining === undefined && r.chars > MAX_STREAM_CHARS) {
            this.draining = r;
            this.receive(true);
          }
          // A new stream whose predecessor never ends would hold lines without bound.
          if (r.held && r.chars > MAX_STREAM_CHARS) this.fail('Replaced HTTP stream did not end');
        },
        onEnd: () => this.received(r, status),
        onError: (error) => this.fail('HTTP receive request failed', error),
      },
    );
    r.abort = () => exchange.abort();
  }

  /** A receive request's answer is complete. */
  private received(r: Receive, status: number): void {
    if (this.closed) return;
    if (status !== 200) return this.fail(`HTTP transport answered ${status}`);
    if (r === this.draining) {
      this.draining = undefined;
      const next = this.receiving!;
      const held = next.held ?? [];
      next.held = undefined;
      for (const line of held) {
        if (this.closed) return;
        this.line(line);
      }
      return;
    }
    if (r !== this.receiving) return;
    // An answer without a line would be asked for again at once, and again: a hot loop.
    if (r.lines === 0) return this.fail('Empty HTTP transport answer');
    // A poll's answer ends with its lines; a stream ends when something between cut it. Either
    // way the session is still there: ask again.
    this.receive(false);
  }

  private line(line: string): void {
    switch (line.charAt(0)) {
      case '':
        return;
      case 'o':
        if (this.state === 'connecting') {
          this.state = 'open';
          this.h.onOpen();
        } else {
          // A second `o`: the server made a new session under this id, the old one (and its subscriptions) is gone.
          this.fail('Server lost session');
        }
        return;
      case 'a': {
        const frames = parseJson(line.slice(1));
        if (!Array.isArray(frames)) return this.fail('Invalid HTTP transport frames');
        for (const f of frames) {
          if (this.closed) return;
          if (typeof f === 'string') this.h.onMessage(f);
        }
        return;
      }
      case 'h':
        // The stream is alive. Liveness is the client's pings' business, as over a WebSocket.
        return;
      case 'c': {
        const c = parseJson(line.slice(1));
        const code = Array.isArray(c) && typeof c[0] === 'number' ? c[0] : 1006;
        const reason = Array.isArray(c) && typeof c[1] === 'string' ? c[1] : '';
        this.shutdown();
        this.h.onClose({ code, reason });
        return;
      }
      default:
        // Not this protocol (a proxy's page answered 200?): fail now rather than at the handshake timeout.
        this.fail('Invalid HTTP transport data');
    }
  }

  /** The session is unusable: reported as a close the server did not send (1006). */
  private fail(reason: string, error?: unknown): void {
    if (this.closed) return;
    this.shutdown();
    if (error !== undefined) this.h.onError(error);
    this.h.onClose({ code: 1006, reason });
  }

  private shutdown(): void {
    if (this.closed) return;
    this.state = 'closed';
    this.receiving?.abort();
    this.draining?.abort();
    this.sending?.abort();
    this.receiving = this.draining = this.sending = undefined;
    this.outbox = [];
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * `xhr_streaming` (mode `stream`) or `xhr_polling` (`poll`) over `client`. `connect(url)` takes
 * `http[s]://host[:port]/…/app/<key>?<query>`; each connection is a new session under it.
 */
export function createHttpTransport(mode: ReceiveMode, client: HttpStreamClient): Transport {
  return { connect: (url, h) => new HttpSocket(url, mode, client, h) };
}
