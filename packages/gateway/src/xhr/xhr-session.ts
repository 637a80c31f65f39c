import type { SessionSocket, SocketData } from '../socket-data.js';
import { closeLine, encodeFrame, framesLine, HEARTBEAT_LINE, OPEN_LINE } from './frames.js';

/**
 * pusher-js drops a stream once its response text is longer than this many characters and it has
 * read every whole line, and asks again (its `buffer_too_long`). Whatever is written to the old
 * response meanwhile would be lost: a stream that has carried more gets nothing else, and the
 * frames wait for the next receive request. Counted in UTF-16 code units, as the response text is.
 */
const STREAM_RENEWAL_CHARS = 256 * 1024;

/** How a receive request takes lines: a stream keeps its response open, a poll ends it at the first lines. */
export type ReceiverMode = 'stream' | 'poll';

/** Where a session's lines go: an HTTP response of this node, or one another node serves (relay.ts). */
export interface Receiver {
  readonly mode: ReceiverMode;
  /** Writes whole lines; false: the client reads slowly and the next lines wait for XhrSession.resume. */
  write(lines: string): boolean;
  /** Writes the last lines and ends the response. */
  end(lines: string): void;
}

/** What a session needs from the transport that holds it (xhr-server.ts). */
export interface SessionHost {
  subscribe(topic: string, s: XhrSession): boolean;
  unsubscribe(topic: string, s: XhrSession): boolean;
  isSubscribed(topic: string, s: XhrSession): boolean;
  /** Flushes the session soon: every frame sent in one tick goes out in one line. */
  schedule(s: XhrSession): void;
  /** The session closed (the protocol's cleanup runs); its close line waits for a receiver a while. */
  closed(s: XhrSession, code: number, reason: string): void;
}

/**
 * One HTTP session: a connection like a WebSocket (ClientSocket) whose frames wait in a bounded
 * buffer until a receive request takes them. A session has at most one receiver at a time; a new
 * one replaces the old (pusher-js aborts a stream past 256 KB and opens the next).
 */
export class XhrSession implements SessionSocket {
  #out: string[] = [];
  #outBytes = 0;
  #receiver: Receiver | undefined;
  /** The receiver's last write was not taken whole: the rest waits for resume(). */
  #blocked = false;
  /** Characters written to the stream receiver; past STREAM_RENEWAL_CHARS it gets nothing more. */
  #streamed = 0;
  #opened = false;
  readonly #topics = new Set<string>();
  /** Set once closed: the line a receiver gets last. */
  closing: string | undefined;
  /** When the session last lost its receiver (or was made): abandoned sessions are closed. */
  detachedAt = Date.now();
  /** When the receiver last got bytes (streams get a heartbeat after a quiet while), or a poll began. */
  lastWrite = 0;

  constructor(
    /** `key/server/session`, as in the request path. */
    readonly id: string,
    private readonly data: SocketData,
    private readonly host: SessionHost,
    /** Bytes kept for a receiver that does not come or read; past it frames are dropped (as uWebSockets.js's maxBackpressure). */
    private readonly maxBuffered: number,
  ) {}

  getUserData(): SocketData {
    return this.data;
  }

  get receiver(): Receiver | undefined {
    return this.#receiver;
  }

  send(frame: string | Uint8Array): number {
    return this.sendEncoded(encodeFrame(frame));
  }

  sendEncoded(encoded: string): number {
    if (this.closing !== undefined) return 2;
    if (this.#outBytes > this.maxBuffered) return 2;
    this.#out.push(encoded);
    this.#outBytes += encoded.length;
    this.host.schedule(this);
    return this.#receiver !== undefined && !this.#blocked ? 1 : 0;
  }

  subscribe(topic: string): boolean {
    this.#topics.add(topic);
    return this.host.subscribe(topic, this);
  }

  unsubscribe(topic: string): boolean {
    this.#topics.delete(topic);
    return this.host.unsubscribe(topic, this);
  }

  isSubscribed(topic: string): boolean {
    return this.host.isSubscribed(topic, this);
  }

  /** Frames are gathered per tick anyway. */
  cork(cb: () => void): this {
    cb();
    return this;
  }

  getBufferedAmount(): number {
    return this.#outBytes;
  }

  end(code = 1000, reason = ''): void {
    if (this.closing !== undefined) return;
    this.closing = closeLine(code, reason);
    for (const topic of this.#topics) this.host.unsubscribe(topic, this);
    this.#topics.clear();
    this.flush();
    this.host.closed(this, code, reason);
  }

  /** A receive request for this session: it gets what is waiting (a poll waits for the first frames). */
  attach(r: Receiver): void {
    const old = this.#receiver;
    this.#receiver = r;
    this.#blocked = false;
    this.#streamed = 0;
    // The client dropped the old one already (pusher-js aborts before it asks again).
    if (old !== undefined) old.end('');
    const head = this.#opened ? '' : OPEN_LINE;
    this.#opened = true;
    this.lastWrite = Date.now();
    if (r.mode === 'stream' && head !== '') this.#write(r, head);
    else if (head !== '') {
      this.#out.unshift(''); // marks the open line for the poll's answer (see flush)
    }
    this.flush();
  }

  /** The receiver went away (the client aborted, or its node lost it). */
  detach(r: Receiver): void {
    if (this.#receiver !== r) return;
    this.#receiver = undefined;
    this.#blocked = false;
    this.detachedAt = Date.now();
  }

  /** The receiver took its last write whole: what waited goes now. */
  resume(r: Receiver): void {
    if (this.#receiver !== r) return;
    this.#blocked = false;
    this.flush();
  }

  /** Writes to a stream receiver, counting what it carried. */
  #write(r: Receiver, lines: string): void {
    this.#streamed += lines.length;
    if (!r.write(lines)) this.#blocked = true;
  }

  /** The stream receiver has carried its share: the client is about to ask again. */
  #renewing(r: Receiver): boolean {
    return r.mode === 'stream' && this.#streamed > STREAM_RENEWAL_CHARS;
  }

  /** Writes what waits to the receiver, if there is one that can take it. */
  flush(): void {
    const r = this.#receiver;
    if (r === undefined || this.#blocked) return;
    // Frames wait for the next stream; a close line is written all the same (the client ends anyway).
    if (this.#renewing(r) && this.closing === undefined) return;
    let lines = '';
    if (this.#out.length > 0) {
      // A poll's first answer starts with the open line (attach marked it with an empty entry).
      if (this.#out[0] === '') {
        lines = OPEN_LINE;
        this.#out.shift();
      }
      if (this.#out.length > 0) lines += framesLine(this.#out);
      this.#out = [];
      this.#outBytes = 0;
    }
    if (this.closing !== undefined) {
      this.#receiver = undefined;
      this.detachedAt = Date.now();
      r.end(lines + this.closing);
      return;
    }
    if (lines === '') return;
    this.lastWrite = Date.now();
    if (r.mode === 'poll') {
      this.detach(r);
      r.end(lines);
      return;
    }
    this.#write(r, lines);
  }

  /** Called periodically: a quiet stream gets a heartbeat, a poll held that long is answered with one. */
  tick(now: number, heartbeatMs: number): void {
    const r = this.#receiver;
    if (r === undefined || now - this.lastWrite < heartbeatMs) return;
    this.lastWrite = now;
    if (r.mode === 'poll') {
      this.detach(r);
      r.end(HEARTBEAT_LINE);
    } else if (!this.#blocked && !this.#renewing(r)) {
      this.#write(r, HEARTBEAT_LINE);
    }
  }
}
