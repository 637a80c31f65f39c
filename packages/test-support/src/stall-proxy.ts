import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP forwarder on 127.0.0.1 that can simulate network faults between a process and its
 * upstream (e.g. a gateway and Redis):
 *
 * - `stall()`: nothing is forwarded in either direction, but no connection is closed (a black
 *   hole: writes succeed on both ends and are never answered). New connections are accepted and
 *   held, their upstream leg is opened only on `resume()` (as a SYN would hang).
 * - `resume()`: everything held back is forwarded in order, and forwarding continues.
 * - `drop()`: every current connection is destroyed on both legs (the peers see a close);
 *   new connections are forwarded as usual (unless stalled).
 */
export interface StallProxy extends AsyncDisposable {
  readonly port: number;
  readonly stalled: boolean;
  /** Open client connections (each with its upstream leg). */
  connections(): number;
  /** Bytes held back because of a stall, both directions. */
  heldBytes(): number;
  stall(): void;
  resume(): void;
  drop(): void;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream?: Socket;
  toUpstream: Buffer[];
  toClient: Buffer[];
}

export async function startStallProxy(target: { host?: string; port: number }): Promise<StallProxy> {
  const host = target.host ?? '127.0.0.1';
  const pairs = new Set<Pair>();
  let stalled = false;

  const destroyPair = (p: Pair) => {
    pairs.delete(p);
    p.client.destroy();
    p.upstream?.destroy();
  };

  /** Forwards `from` → `to` with back-pressure; while stalled, chunks are queued instead. */
  const forward = (p: Pair, from: Socket, to: () => Socket | undefined, queue: Buffer[]) => {
    from.on('data', (chunk: Buffer) => {
      const dest = to();
      if (stalled || dest === undefined || queue.length > 0) {
        queue.push(chunk);
        from.pause();
        return;
      }
      if (!dest.write(chunk)) {
        from.pause();
        dest.once('drain', () => {
          if (!stalled) from.resume();
        });
      }
    });
    from.on('end', () => {
      if (!pairs.has(p)) return;
      const dest = to();
      if (dest && queue.length === 0 && !stalled) dest.end();
      else destroyPair(p);
    });
    from.on('error', () => destroyPair(p));
    from.on('close', () => destroyPair(p));
  };

  const flush = (p: Pair) => {
    if (p.upstream === undefined) return;
    for (const chunk of p.toUpstream.splice(0)) p.upstream.write(chunk);
    for (const chunk of p.toClient.splice(0)) p.client.write(chunk);
    p.client.resume();
    p.upstream.resume();
  };

  const openUpstream = (p: Pair) => {
    const up = connect(target.port, host);
    p.upstream = up;
    forward(p, up, () => p.client, p.toClient);
    up.once('connect', () => {
      if (!stalled) flush(p);
    });
  };

  const server: Server = createServer((client) => {
    const p: Pair = { client, toUpstream: [], toClient: [] };
    pairs.add(p);
    client.setNoDelay(true);
    forward(p, client, () => p.upstream, p.toUpstream);
    if (stalled) client.pause();
    else openUpstream(p);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;

  const close = async () => {
    for (const p of [...pairs]) destroyPair(p);
    await new Promise<void>((r) => server.close(() => r()));
  };
  return {
    port,
    get stalled() {
      return stalled;
    },
    connections: () => pairs.size,
    heldBytes: () => [...pairs].reduce((n, p) => n + [...p.toUpstream, ...p.toClient].reduce((m, b) => m + b.length, 0), 0),
    stall() {
      stalled = true;
      for (const p of pairs) {
        p.client.pause();
        p.upstream?.pause();
      }
    },
    resume() {
      stalled = false;
      for (const p of [...pairs]) {
        if (p.upstream === undefined) openUpstream(p);
        else if (!p.upstream.connecting) flush(p);
      }
    },
    drop() {
      for (const p of [...pairs]) destroyPair(p);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
