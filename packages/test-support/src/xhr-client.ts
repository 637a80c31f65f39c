import { randomBytes, randomInt } from 'node:crypto';
import { request, type ClientRequest } from 'node:http';

export interface XhrFrame {
  event: string;
  channel?: string;
  data?: unknown;
}

/**
 * A client of Herald's HTTP session transports speaking the wire directly (docs/http-fallbacks.md),
 * for what pusher-js does not let a test steer: which gateway each request reaches (`bases` are
 * taken in turn, one request each), the raw lines, bodies and statuses. Streams or long-polls.
 */
export class XhrTestClient {
  readonly frames: XhrFrame[] = [];
  /** Every line received, in order (`o`, `a[...]`, `h`, `c[...]`). */
  readonly lines: string[] = [];
  closed: { code: number; reason: string } | undefined;
  /** Statuses of the xhr_send requests, in order. */
  readonly sendStatuses: number[] = [];
  /** Receive requests made, and the gateway base each went to. */
  readonly receives: string[] = [];
  /** Characters each receive answer carried, in order. */
  readonly responseChars: number[] = [];
  readonly session: string;
  #n = 0;
  #req: ClientRequest | undefined;
  #stopped = false;

  constructor(
    private readonly opts: {
      bases: string[];
      key: string;
      mode: 'stream' | 'poll';
      path?: string;
      origin?: string;
      /** Answer a heartbeat line with an xhr_send of `[]`, as pusher-js does on streams. @default true */
      answerHeartbeats?: boolean;
      /** `{server}/{session}`; a new random one by default. */
      session?: string;
      /** The `protocol` query parameter. @default 7 */
      protocol?: string;
    },
  ) {
    this.session =
      opts.session ??
      `${randomInt(1000)}/${randomBytes(6)
        .toString('base64url')
        .slice(0, 8)
        .replace(/[^A-Za-z0-9]/g, 'x')}`;
  }

  #base(): string {
    return this.opts.bases[this.#n++ % this.opts.bases.length]!;
  }

  #url(base: string, kind: string): string {
    return `${base}${this.opts.path ?? '/pusher'}/app/${this.opts.key}/${this.session}/${kind}${kind === 'xhr_send' ? '' : `?protocol=${this.opts.protocol ?? '7'}&client=js&version=8.4.0`}`;
  }

  #headers(body?: string): Record<string, string> {
    return {
      'content-type': 'application/json',
      ...(this.opts.origin !== undefined ? { origin: this.opts.origin } : {}),
      ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
    };
  }

  /** Starts receiving; resolves once connection_established arrived. */
  async open(): Promise<string> {
    this.#receive();
    const est = await this.waitFor((f) => f.event === 'pusher:connection_established' || f.event === 'pusher:error');
    if (est.event === 'pusher:error') throw new Error(`refused: ${JSON.stringify(est.data)}`);
    return (JSON.parse(est.data as string) as { socket_id: string }).socket_id;
  }

  #receive(): void {
    if (this.#stopped || this.closed !== undefined) return;
    const base = this.#base();
    this.receives.push(base);
    const req = request(this.#url(base, this.opts.mode === 'stream' ? 'xhr_streaming' : 'xhr'), { method: 'POST', headers: this.#headers(''), agent: false });
    this.#req = req;
    req.on('response', (res) => {
      let buf = '';
      const index = this.responseChars.push(0) - 1;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        this.responseChars[index]! += chunk.length;
        buf += chunk;
        let at;
        while ((at = buf.indexOf('\n')) !== -1) {
          this.#line(buf.slice(0, at));
          buf = buf.slice(at + 1);
        }
      });
      res.on('end', () => {
        if (this.#req === req) this.#req = undefined;
        // A poll asks again at once; a stream that ends is a closed session.
        if (this.opts.mode === 'poll') this.#receive();
        else if (this.closed === undefined && !this.#stopped) this.closed = { code: 1006, reason: `stream ended (${res.statusCode})` };
      });
      res.on('error', () => undefined);
    });
    req.on('error', () => {
      if (this.closed === undefined && !this.#stopped) this.closed = { code: 1006, reason: 'request failed' };
    });
    req.end('');
  }

  #line(line: string): void {
    this.lines.push(line);
    const type = line[0];
    if (type === 'a') {
      for (const text of JSON.parse(line.slice(1)) as string[]) this.frames.push(JSON.parse(text) as XhrFrame);
    } else if (type === 'c') {
      const [code, reason] = JSON.parse(line.slice(1)) as [number, string];
      this.closed = { code, reason };
    } else if (type === 'h' && this.opts.mode === 'stream' && this.opts.answerHeartbeats !== false) {
      void this.sendRaw('[]');
    }
  }

  /** Sends frames (objects, encoded as pusher-js does); resolves with the status. */
  send(...frames: object[]): Promise<number> {
    return this.sendRaw(JSON.stringify(frames.map((f) => JSON.stringify(f))));
  }

  sendRaw(body: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = request(this.#url(this.#base(), 'xhr_send'), { method: 'POST', headers: this.#headers(body), agent: false }, (res) => {
        res.resume();
        res.on('end', () => {
          this.sendStatuses.push(res.statusCode ?? 0);
          resolve(res.statusCode ?? 0);
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Resolves with the first frame (already received or to come) matching `pred`. */
  async waitFor(pred: (f: XhrFrame) => boolean, timeoutMs = 15_000): Promise<XhrFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = this.frames.find(pred);
      if (f !== undefined) return f;
      if (Date.now() > deadline) throw new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames).slice(0, 500)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stops receiving (aborts the open request), as pusher-js does on disconnect. */
  stop(): void {
    this.#stopped = true;
    this.#req?.destroy();
  }

  /** Receives again after stop(), in the same session (pusher-js's stream after 256 KB). */
  resume(): void {
    this.#stopped = false;
    this.#receive();
  }
}
