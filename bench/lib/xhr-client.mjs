// A pusher-js-like client of the gateway's HTTP fallback transports (packages/gateway/src/xhr/),
// shaped like a `ws` WebSocket so that the generator's connection code drives it unchanged:
// `send(text)`, `close()`, `terminate()`, `readyState`, and the events 'message' (a Buffer holding
// one frame), 'error' and 'close' (code).
//
// As pusher-js does: the receive request is a POST to `.../{server}/{session}/xhr_streaming` (or
// `xhr`, a long poll asked again as soon as it is answered), every send is a POST of its own to
// `.../xhr_send` with a JSON array of frames as text, a heartbeat line is answered with a send of
// `[]`, and a stream that has read more than 256 KB is dropped and asked again once its lines are
// all read.
//
// Frames of bench events are not parsed: each `@t=` marker of an `a` line is handed on as one
// frame (a bench event's data holds exactly one, and JSON string escaping leaves it as it is). An
// `a` line that names a `pusher` event is parsed and its frames handed on as they are.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import http from 'node:http';

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;
/** pusher-js drops a stream whose buffer grew past this and opens the next one. */
const MAX_STREAM_BYTES = 256 * 1024;
const NL = 0x0a;
const MARK = Buffer.from('@t=');
const PUSHER = Buffer.from('pusher');
const SEND_HEADERS = { 'Content-Type': 'application/json' };

/** Every client of a process shares one agent: many sockets, kept alive between sends. */
let sharedAgent;
function agent() {
  sharedAgent ??= new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024, keepAliveMsecs: 10000 });
  return sharedAgent;
}

let requests = 0;

/** This process's HTTP requests since the last reset: receive requests, sends, streams dropped past 256 KB. */
export const xhrCounters = { receives: 0, sends: 0, renewals: 0 };
export function resetXhrCounters() {
  xhrCounters.receives = 0;
  xhrCounters.sends = 0;
  xhrCounters.renewals = 0;
}

/**
 * wsUrl: the server's WebSocket URL (`ws://host:port/app/KEY?protocol=7&...`); the HTTP paths are
 * made from it under pusher-js's default `httpPath`, `/pusher`. transport: 'xhr_streaming' | 'xhr'.
 */
export class XhrSocket extends EventEmitter {
  static CONNECTING = CONNECTING;
  static OPEN = OPEN;
  static CLOSED = CLOSED;

  readyState = CONNECTING;
  #req = null;
  #rest = null;
  #read = 0;

  constructor(wsUrl, { transport = 'xhr_streaming', localAddress } = {}) {
    super();
    const u = new URL(wsUrl);
    this.host = u.hostname;
    this.port = Number(u.port);
    this.localAddress = localAddress;
    this.transport = transport;
    // pusher-js: a random server number below 1000 and 8 random characters.
    const session = `${Math.floor(Math.random() * 1000)}/${randomBytes(6).toString('base64url')}`;
    this.base = `/pusher${u.pathname}/${session}`;
    this.query = u.search;
    setImmediate(() => this.#receive());
  }

  /** One frame (text), sent alone as pusher-js does. */
  send(text) {
    this.#post(`[${JSON.stringify(text)}]`);
  }

  close() {
    this.#end(1000);
  }

  terminate() {
    this.#end(1006);
  }

  #end(code) {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.#req?.destroy();
    this.#req = null;
    setImmediate(() => this.emit('close', code));
  }

  #post(body) {
    if (this.readyState === CLOSED) return;
    xhrCounters.sends++;
    const req = http.request(
      {
        host: this.host,
        port: this.port,
        localAddress: this.localAddress,
        path: `${this.base}/xhr_send`,
        method: 'POST',
        agent: agent(),
        headers: { ...SEND_HEADERS, 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        if (res.statusCode !== 204) this.emit('error', Object.assign(new Error(`xhr_send ${res.statusCode}`), { code: `xhr_send ${res.statusCode}` }));
      },
    );
    req.on('error', (err) => {
      if (this.readyState !== CLOSED) this.emit('error', err);
    });
    req.end(body);
  }

  #receive() {
    if (this.readyState === CLOSED) return;
    this.#rest = null;
    this.#read = 0;
    xhrCounters.receives++;
    // A unique URL per request, as pusher-js makes it (no cache may answer it).
    const path = `${this.base}/${this.transport}${this.query}&t=${Date.now()}&n=${++requests}`;
    const req = http.request({
      host: this.host,
      port: this.port,
      localAddress: this.localAddress,
      path,
      method: 'POST',
      agent: agent(),
      headers: { 'Content-Length': 0 },
    });
    this.#req = req;
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return this.#lost(`receive ${res.statusCode}`);
      }
      res.on('data', (chunk) => {
        if (this.#req !== req) return;
        this.#lines(chunk);
        // Read whole lines only: what is left waits for its end. A long stream is asked again.
        if (this.transport === 'xhr_streaming' && this.#read > MAX_STREAM_BYTES && this.#rest === null && this.readyState === OPEN) {
          xhrCounters.renewals++;
          req.destroy();
          this.#receive();
        }
      });
      res.on('end', () => {
        if (this.#req !== req) return;
        this.#req = null;
        // A poll's answer ended: ask again. A stream that ended without a close line lost its session.
        if (this.transport === 'xhr' && this.readyState === OPEN) this.#receive();
        else if (this.readyState !== CLOSED) this.#lost('receive ended');
      });
      res.on('error', () => undefined);
    });
    req.on('error', (err) => {
      if (this.#req === req) this.#lost(err.code ?? err.message);
    });
    req.end();
  }

  #lost(why) {
    if (this.readyState === CLOSED) return;
    this.emit('error', Object.assign(new Error(why), { code: why }));
    this.#end(1006);
  }

  #lines(chunk) {
    this.#read += chunk.length;
    const buf = this.#rest === null ? chunk : Buffer.concat([this.#rest, chunk]);
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(NL, start);
      if (nl === -1) break;
      this.#line(buf, start, nl);
      if (this.readyState === CLOSED) return;
      start = nl + 1;
    }
    this.#rest = start < buf.length ? buf.subarray(start) : null;
  }

  #line(buf, start, end) {
    switch (buf[start]) {
      case 0x6f: // o: open; a second one in a session means the server lost it
        if (this.readyState === CONNECTING) {
          this.readyState = OPEN;
          this.emit('open');
        } else this.#lost('server lost session');
        return;
      case 0x61: {
        // a[...]: frames
        const line = buf.subarray(start + 1, end);
        if (line.indexOf(PUSHER) !== -1) {
          for (const frame of JSON.parse(line.toString())) this.emit('message', Buffer.from(frame));
          return;
        }
        let i = line.indexOf(MARK);
        while (i !== -1) {
          const next = line.indexOf(MARK, i + MARK.length);
          this.emit('message', line.subarray(i, next === -1 ? line.length : next));
          i = next;
        }
        return;
      }
      case 0x68: // h: heartbeat, answered with an empty send
        this.#post('[]');
        return;
      case 0x63: {
        // c[code,"reason"]: closed
        let code = 1006;
        try {
          code = JSON.parse(buf.subarray(start + 1, end).toString())[0];
        } catch {
          /* a broken close line still closes */
        }
        this.readyState = CLOSED;
        this.#req?.destroy();
        this.#req = null;
        this.emit('close', code);
        return;
      }
      default:
        this.emit('error', Object.assign(new Error('unknown line'), { code: `unknown line ${String.fromCharCode(buf[start])}` }));
    }
  }
}
