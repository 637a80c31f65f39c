import { randomBytes, randomInt } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

/**
 * pusher-js's HTTP fallback wire spoken by hand, one request per fresh connection: for tests of
 * what stands between a client and the gateways (balancers, proxies), which need each answer's
 * status and headers, and need to see a streamed answer's lines arrive while it is still open.
 */

export interface FallbackFrame {
  event: string;
  channel?: string;
  data?: unknown;
}

/** One answer, read as it arrives. */
export interface FallbackAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body's lines so far (`o`, `a[...]`, `h`, `c[...]`), each without its `\n`. */
  lines: string[];
  /** The Pusher frames of the `a` lines so far. */
  frames: FallbackFrame[];
  /** The body as it came (an error page, for a refusal). */
  body(): string;
  /** False while the server keeps the answer open. */
  ended(): boolean;
  /** Resolves once the answer ended. */
  end: Promise<void>;
  /** Resolves with the first frame `match` accepts, received already or later. */
  waitFrame(match: (f: FallbackFrame) => boolean, timeoutMs?: number): Promise<FallbackFrame>;
  /** Drops the request, as a client going away does. */
  abort(): void;
}

/** `{server}/{session}` as pusher-js makes them: 0-999 and 8 characters. */
export const fallbackSession = (): string =>
  `${randomInt(1000)}/${randomBytes(6)
    .toString('base64url')
    .slice(0, 8)
    .replace(/[^A-Za-z0-9]/g, 'x')}`;

/** The URL of one request of `session` under pusher-js's default httpPath. */
export function fallbackUrl(base: string, key: string, session: string, kind: 'xhr_streaming' | 'xhr' | 'xhr_send'): string {
  return `${base}/pusher/app/${key}/${session}/${kind}${kind === 'xhr_send' ? '' : '?protocol=7&client=js&version=8.6.0'}`;
}

/** An xhr_send body: each frame as JSON text, in a JSON array (what pusher-js posts). */
export const sendBody = (frames: object[]): string => JSON.stringify(frames.map((f) => JSON.stringify(f)));

/**
 * Sends one request on a fresh connection (`agent: false`: a balancer's per-connection state never
 * mixes two requests) and resolves once the answer's head is in; its body is read as it comes.
 * `ca` trusts a test certificate for https:// URLs.
 */
export function fallbackRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; ca?: string } = {},
): Promise<FallbackAnswer> {
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  const body = opts.body ?? '';
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: opts.method ?? 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...opts.headers },
        ...(opts.ca ? { ca: opts.ca } : {}),
      },
      (res) => {
        let text = '';
        let done = false;
        let markEnded: () => void = () => undefined;
        const end = new Promise<void>((r) => (markEnded = r));
        const waiters = new Set<() => void>();
        const answer: FallbackAnswer = {
          status: res.statusCode ?? 0,
          headers: res.headers,
          lines: [],
          frames: [],
          body: () => text,
          ended: () => done,
          end,
          waitFrame(match, timeoutMs = 30_000) {
            return new Promise((resolveFrame, rejectFrame) => {
              const check = () => {
                const f = answer.frames.find(match);
                if (f !== undefined) {
                  clearTimeout(timer);
                  waiters.delete(check);
                  resolveFrame(f);
                } else if (done) {
                  clearTimeout(timer);
                  waiters.delete(check);
                  rejectFrame(new Error(`the answer ended without the frame; lines: ${answer.lines.join(' | ')}`));
                }
              };
              // a backstop for a frame that never comes, not a measurement
              const timer = setTimeout(() => {
                waiters.delete(check);
                rejectFrame(new Error(`no such frame within ${timeoutMs} ms; lines: ${answer.lines.join(' | ')}`));
              }, timeoutMs);
              waiters.add(check);
              check();
            });
          },
          abort: () => req.destroy(),
        };
        let pending = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          pending += chunk;
          for (let at = pending.indexOf('\n'); at !== -1; at = pending.indexOf('\n')) {
            const line = pending.slice(0, at);
            pending = pending.slice(at + 1);
            answer.lines.push(line);
            if (line.startsWith('a[')) {
              for (const f of JSON.parse(line.slice(1)) as string[]) answer.frames.push(JSON.parse(f) as FallbackFrame);
            }
          }
          for (const w of [...waiters]) w();
        });
        const finish = () => {
          if (done) return;
          done = true;
          markEnded();
          for (const w of [...waiters]) w();
        };
        res.on('end', finish);
        res.on('close', finish);
        res.on('error', finish);
        resolve(answer);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
