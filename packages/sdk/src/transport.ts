import http from 'node:http';
import https from 'node:https';
import { closedError, httpStatus, invalidResponse, networkError, timeoutError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import type { PreparedRequest } from './requests.js';

/**
 * Idle keep-alive sockets are closed after this long. Below Node's default server
 * `keepAliveTimeout` (5 s), so the client, not the server, ends an idle connection and a request is
 * rarely written into a socket the server is closing.
 */
const IDLE_SOCKET_TIMEOUT_MS = 4_000;

/** Socket errors that mean "the server closed this idle keep-alive connection under us". */
const STALE_SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE']);

type Status = 'open' | 'closed';

/** A 2xx answer: its status and parsed JSON body (undefined for 204). */
export interface Answer {
  status: number;
  body: unknown;
}

/**
 * Sends prepared requests over one `http.Agent` / `https.Agent`.
 *
 * Guarantees:
 * - resolves with the parsed JSON body of a 2xx answer (undefined for a 204); rejects with a `HeraldApiError` otherwise
 *   (`HttpStatus` with the body verbatim, `InvalidResponse`, `Network`, `Timeout`, `Closed`);
 * - `timeoutMs` bounds the whole exchange (connect, send, the complete response); the request is
 *   destroyed when it fires;
 * - with keep-alive, a request that fails on a reused socket before any response byte arrived
 *   (ECONNRESET/EPIPE: the server closed the idle connection) is retried once on a new connection.
 *   That is Node's documented pattern (`request.reusedSocket`); nothing else is ever retried.
 */
export class HttpTransport {
  readonly agent: http.Agent;
  #status: Status = 'open';
  readonly #request: typeof http.request;
  readonly #opts: Pick<ResolvedOptions, 'url' | 'timeoutMs' | 'keepAlive'>;

  constructor(opts: Pick<ResolvedOptions, 'url' | 'timeoutMs' | 'keepAlive'>) {
    this.#opts = opts;
    const secure = opts.url.protocol === 'https:';
    const agentOpts = { keepAlive: opts.keepAlive, timeout: IDLE_SOCKET_TIMEOUT_MS };
    this.agent = secure ? new https.Agent(agentOpts) : new http.Agent(agentOpts);
    this.#request = secure ? https.request : http.request;
  }

  async send(req: PreparedRequest): Promise<unknown> {
    return (await this.exchange(req)).body;
  }

  /** `send`, with the 2xx status the body came with (the admin client reports it in `InvalidResponse`). */
  async exchange(req: PreparedRequest): Promise<Answer> {
    if (this.closed) throw closedError();
    const deadline = Date.now() + this.#opts.timeoutMs;
    try {
      return await this.#attempt(req, deadline);
    } catch (err) {
      if (!(err instanceof StaleSocketError)) throw err;
      if (this.closed) throw networkError(req.method, req.signedPath, err.cause);
      return await this.#attempt(req, deadline, true);
    }
  }

  get closed(): boolean {
    return this.#status === 'closed';
  }

  /** Destroys every socket, idle or busy; requests in flight reject with `Network`, later ones with `Closed`. */
  close(): void {
    this.#status = 'closed';
    this.agent.destroy();
  }

  #attempt(req: PreparedRequest, deadline: number, isRetry = false): Promise<Answer> {
    const { method, signedPath } = req;
    return new Promise((resolve, reject) => {
      const remaining = deadline - Date.now();
      if (remaining <= 0) return reject(timeoutError(method, signedPath, this.#opts.timeoutMs));
      let settled = false;
      let gotResponse = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const headers: Record<string, string> = { ...req.headers, accept: 'application/json', 'x-pusher-library': 'herald-sdk' };
      if (req.body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = String(Buffer.byteLength(req.body));
      }
      const r = this.#request(
        {
          protocol: this.#opts.url.protocol,
          hostname: this.#opts.url.hostname.replace(/^\[|\]$/g, ''),
          port: this.#opts.url.port || undefined,
          method,
          path: req.target,
          headers,
          agent: this.agent,
        },
        (res) => {
          gotResponse = true;
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => settle(() => reject(networkError(method, signedPath, err))));
          // The connection died mid-body: 'end' never comes.
          res.on('close', () => {
            if (!res.complete) settle(() => reject(networkError(method, signedPath, new Error('connection closed before the response was complete'))));
          });
          res.on('end', () =>
            settle(() => {
              const status = res.statusCode ?? 0;
              const text = Buffer.concat(chunks).toString('utf8');
              if (status < 200 || status >= 300) return reject(httpStatus(method, signedPath, status, text));
              // 204 No Content (the admin API's answer to a deletion) has no body to parse.
              if (status === 204) return resolve({ status, body: undefined });
              let parsed: unknown;
              try {
                parsed = JSON.parse(text);
              } catch {
                return reject(invalidResponse(method, signedPath, status, text, 'a body that is not JSON'));
              }
              if (parsed === null || typeof parsed !== 'object') {
                return reject(invalidResponse(method, signedPath, status, text, 'a JSON body that is not an object or array'));
              }
              resolve({ status, body: parsed });
            }),
          );
        },
      );
      const timer = setTimeout(() => {
        settle(() => reject(timeoutError(method, signedPath, this.#opts.timeoutMs)));
        r.destroy();
      }, remaining);
      r.on('error', (err: NodeJS.ErrnoException) =>
        settle(() => {
          const stale = !isRetry && !gotResponse && r.reusedSocket && err.code !== undefined && STALE_SOCKET_CODES.has(err.code);
          reject(stale ? new StaleSocketError(err) : networkError(method, signedPath, err));
        }),
      );
      r.end(req.body);
    });
  }
}

/** Internal signal for the single stale-socket retry; never escapes `send`. */
class StaleSocketError extends Error {
  constructor(override readonly cause: unknown) {
    super('stale keep-alive socket');
  }
}
