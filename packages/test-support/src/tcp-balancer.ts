import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A minimal round-robin TCP load balancer for tests: no stickiness, and a backend that refuses a
 * connection is skipped for the next one, as nginx or HAProxy would do.
 */
export async function startTcpBalancer(backends: () => number[]): Promise<{ port: number; close(): Promise<void> } & AsyncDisposable> {
  let next = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.pause();
    const ports = backends();
    const tryBackend = (attempt: number) => {
      if (attempt >= ports.length) {
        client.destroy();
        return;
      }
      const port = ports[next++ % ports.length]!;
      const upstream = connect(port, '127.0.0.1');
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      upstream.once('connect', () => {
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
      upstream.once('error', () => {
        if (upstream.connecting || !upstream.readable) tryBackend(attempt + 1);
      });
    };
    tryBackend(0);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  const close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return { port, close, [Symbol.asyncDispose]: close };
}
