import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** Header names as sent on the wire, in order, with values. */
  rawHeaders: string[];
  body: Buffer;
}

/** Status to answer with, or 'hang' to never answer. `n` counts requests from 1. */
export type Respond = (req: ReceivedRequest, n: number) => number | 'hang' | Promise<number | 'hang'>;

export interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  close(): Promise<void>;
}

/** A real HTTP webhook receiver on port 0 that records every request. */
export async function startReceiver(respond: Respond = () => 200): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const received: ReceivedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks),
      };
      requests.push(received);
      void Promise.resolve(respond(received, requests.length)).then((status) => {
        if (status === 'hang') return;
        res.writeHead(status, { 'content-type': 'text/plain' }).end(String(status));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string;
}

/** A WebhookLogger that records entries (and the serialized lines, to check nothing secret is logged). */
export function captureLogger() {
  const entries: LogEntry[] = [];
  const at = (level: LogEntry['level']) => (obj: object, msg: string) => {
    entries.push({ level, obj: obj as Record<string, unknown>, msg });
  };
  return {
    entries,
    text: () => entries.map((e) => `${e.level} ${e.msg} ${JSON.stringify(e.obj)}`).join('\n'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
}
