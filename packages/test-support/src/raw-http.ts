import { connect } from 'node:net';

/**
 * Sends one HTTP/1.1 request byte for byte over a fresh TCP connection (no client library
 * validates or normalises anything) and resolves with the status code of the (first) answer, or 0
 * when the server closed the connection without an answer. `Connection: close` is added so one read to the
 * end is the whole answer.
 */
export function sendRawHttp(
  port: number,
  req: { method: string; target: string; headers?: [string, string][]; body?: Buffer; contentLength?: number | 'omit' },
  timeoutMs = 30_000,
): Promise<{ status: number; statuses: number[]; head: string; body: string }> {
  const body = req.body ?? Buffer.alloc(0);
  const lines = [`${req.method} ${req.target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [k, v] of req.headers ?? []) lines.push(`${k}: ${v}`);
  if (req.contentLength !== 'omit' && (body.length > 0 || req.contentLength !== undefined)) {
    lines.push(`Content-Length: ${req.contentLength ?? body.length}`);
  }
  const bytes = Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), body]);
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms to ${req.method} ${req.target.slice(0, 120)}`));
    }, timeoutMs);
    // Written, not ended: a client that half-closes is taken for gone by Node's HTTP server (no
    // answer to a request still in progress). `Connection: close` makes the server close.
    s.on('connect', () => {
      s.write(bytes);
    });
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      // A body shorter than announced leaves bytes that are read as a second request: every
      // answer on the connection counts.
      const statuses = [...text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3}) /g)].map((x) => Number(x[1]));
      const split = text.indexOf('\r\n\r\n');
      resolve({ status: m ? Number(m[1]) : 0, statuses, head: split === -1 ? text : text.slice(0, split), body: split === -1 ? '' : text.slice(split + 4) });
    });
  });
}
