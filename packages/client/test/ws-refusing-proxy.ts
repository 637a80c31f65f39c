import { createServer, request, type IncomingHttpHeaders, type ClientRequest } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * An HTTP proxy in front of a gateway that refuses WebSocket upgrades (403), as some corporate
 * proxies do, and passes every other request through, streamed answers as they come.
 */
export interface WsRefusingProxy extends AsyncDisposable {
  readonly port: number;
  /** `ws://127.0.0.1:<port>`: what push.js is given as `url`. */
  readonly url: string;
  /** Upgrade requests answered 403. */
  readonly refusedUpgrades: number;
  /** Paths of the requests passed through, in order. */
  readonly passed: string[];
  /** Cuts every connection and answers 502 to new requests until `resume()`: the gateway unreachable. */
  cut(): void;
  /** New requests go to this port (a balancer moved to another gateway); those in flight stay. */
  retarget(port: number): void;
  resume(): void;
  close(): Promise<void>;
}

/** Hop-by-hop headers: the proxy's own connection decides them (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !HOP_BY_HOP.has(k.toLowerCase())));
}

export async function startWsRefusingProxy(
  upstreamPort: number,
  opts: {
    /**
     * Holds each answer until it is complete, then sends it whole, as a buffering proxy does: a
     * stream never reaches the client, long polls do.
     */
    bufferAnswers?: boolean;
  } = {},
): Promise<WsRefusingProxy> {
  let target = upstreamPort;
  let refusedUpgrades = 0;
  let isCut = false;
  const passed: string[] = [];
  const sockets = new Set<Socket>();
  const upstreams = new Set<ClientRequest>();

  const server = createServer((req, res) => {
    if (isCut) {
      res.writeHead(502, { 'Content-Type': 'text/plain' }).end('upstream unreachable');
      return;
    }
    passed.push(req.url ?? '');
    const up = request({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: endToEnd(req.headers) }, (answer) => {
      if (opts.bufferAnswers) {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => res.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers)).end(Buffer.concat(chunks)));
        return;
      }
      res.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers));
      res.flushHeaders();
      answer.pipe(res);
    });
    upstreams.add(up);
    up.on('close', () => upstreams.delete(up));
    up.on('error', () => res.destroy());
    // The client went away (or was cut): the gateway must see its request aborted too.
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', (_req, socket: Socket) => {
    refusedUpgrades++;
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const close = () =>
    new Promise<void>((r) => {
      for (const u of upstreams) u.destroy();
      server.closeAllConnections();
      server.close(() => r());
    });
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    get refusedUpgrades() {
      return refusedUpgrades;
    },
    passed,
    cut() {
      isCut = true;
      for (const u of upstreams) u.destroy();
      for (const s of sockets) s.destroy();
    },
    resume() {
      isCut = false;
    },
    retarget(port) {
      target = port;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
