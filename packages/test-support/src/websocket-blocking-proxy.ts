import { createServer, request, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * An HTTP proxy on 127.0.0.1 that refuses every WebSocket upgrade (403) and passes every other
 * request on to `targetPort`, its answer streamed as it comes: the network of a client behind a
 * corporate proxy or a captive portal that lets plain HTTP through but no WebSocket.
 */
export interface WebSocketBlockingProxy extends AsyncDisposable {
  port: number;
  /** Upgrade requests refused so far (`GET /app/...`). */
  refusedUpgrades(): number;
  /** Every other request passed on, as `METHOD path`. */
  passed(): string[];
  close(): Promise<void>;
}

export async function startWebSocketBlockingProxy(targetPort: number): Promise<WebSocketBlockingProxy> {
  let refused = 0;
  const passed: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    passed.push(`${req.method} ${req.url}`);
    const upstream = request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers, agent: false }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      // piped chunk by chunk: a streamed answer reaches the client while it is still open
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    // the client went away (pusher-js aborts a receive request it replaces): so does the upstream request
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  server.on('upgrade', (_req, socket: Socket) => {
    refused++;
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return {
    port: (server.address() as AddressInfo).port,
    refusedUpgrades: () => refused,
    passed: () => [...passed],
    close,
    [Symbol.asyncDispose]: close,
  };
}
