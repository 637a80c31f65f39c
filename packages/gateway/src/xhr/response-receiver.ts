import type { HttpResponse } from 'uWebSockets.js';
import type { Receiver, ReceiverMode, XhrSession } from './xhr-session.js';

/** Headers of every answer to a receive request. */
const RECEIVE_HEADERS: readonly [string, string][] = [
  ['Content-Type', 'application/javascript; charset=UTF-8'],
  ['Cache-Control', 'no-store, no-cache, no-transform, must-revalidate, max-age=0'],
  // nginx passes a streamed answer on as it comes instead of buffering it.
  ['X-Accel-Buffering', 'no'],
];

/**
 * A receive request's response on this node. uWebSockets.js forbids touching a response after its
 * abort: `done` guards every write. Writes outside a request handler are corked, as it asks.
 */
export class ResponseReceiver implements Receiver {
  done = false;
  #started = false;
  /** The local session it serves, once attached. */
  session: XhrSession | undefined;
  /** Bytes written since a write was last not taken whole (a relayed stream's bound). */
  unread = 0;

  constructor(
    readonly mode: ReceiverMode,
    private readonly res: HttpResponse,
    private readonly headers: readonly [string, string][],
    /** The last write was taken whole after all. */
    private readonly onWritable: (r: ResponseReceiver) => void,
  ) {}

  #start(): void {
    if (this.#started) return;
    this.#started = true;
    this.res.writeStatus('200 OK');
    for (const [k, v] of RECEIVE_HEADERS) this.res.writeHeader(k, v);
    for (const [k, v] of this.headers) this.res.writeHeader(k, v);
  }

  write(lines: string): boolean {
    if (this.done) return true;
    let ok = true;
    this.res.cork(() => {
      this.#start();
      ok = this.res.write(lines);
    });
    if (ok) {
      this.unread = 0;
    } else {
      this.unread += lines.length;
      this.res.onWritable(() => {
        this.unread = 0;
        if (!this.done) this.onWritable(this);
        return true;
      });
    }
    return ok;
  }

  end(lines: string): void {
    if (this.done) return;
    this.done = true;
    this.res.cork(() => {
      this.#start();
      this.res.end(lines);
    });
  }

  /** Answers with a status and no lines (the request is not served). */
  refuse(status: string, headers: readonly [string, string][]): void {
    if (this.done) return;
    this.done = true;
    answer(this.res, status, [...this.headers, ...headers]);
  }

  /** The client went away: nothing may touch the response any more. */
  aborted(): void {
    this.done = true;
  }
}

/** Answers a request with a status and no body (uWebSockets.js: inside the handler, or corked). */
export function answer(res: HttpResponse, status: string, headers: readonly [string, string][], body = ''): void {
  res.cork(() => {
    res.writeStatus(status);
    for (const [k, v] of headers) res.writeHeader(k, v);
    res.end(body);
  });
}
