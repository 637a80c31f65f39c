/**
 * A minimal RESP client for the Redis fixture's own checks (readiness, replication, sentinel and
 * cluster state): one fresh connection per call, so the fixture has none of a client library's
 * reconnect or retry behaviour.
 */
import { connect } from 'node:net';

/** Host, port and password of a server to ask (a `RedisHandle` is one). */
export interface RedisAddress {
  readonly host: string;
  readonly port: number;
  readonly password?: string | undefined;
}

export type Reply = string | number | null | RedisReplyError | Reply[];

export class RedisReplyError extends Error {}

function encode(args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

function parseReply(buf: Buffer, start: number): { value: Reply; end: number } | undefined {
  if (start >= buf.length) return undefined;
  const lineEnd = buf.indexOf('\r\n', start);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buf[start]!);
  const line = buf.toString('utf8', start + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new RedisReplyError(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, end: next };
      if (buf.length < next + len + 2) return undefined;
      return { value: buf.toString('utf8', next, next + len), end: next + len + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      const items: Reply[] = [];
      let pos = next;
      for (let i = 0; i < n; i++) {
        const item = parseReply(buf, pos);
        if (!item) return undefined;
        items.push(item.value);
        pos = item.end;
      }
      return { value: items, end: pos };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}

/**
 * Sends the commands pipelined on a fresh connection and resolves with one reply each. With
 * `untilClose`, a server closing the connection (as SHUTDOWN does) resolves with the replies so far.
 */
export function sendCommands(
  host: string,
  port: number,
  commands: string[][],
  { timeoutMs = 10_000, untilClose = false }: { timeoutMs?: number; untilClose?: boolean } = {},
): Promise<Reply[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const replies: Reply[] = [];
    let buf = Buffer.alloc(0);
    let connected = false;
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(replies);
    };
    const timer = setTimeout(() => finish(new Error(`no reply from ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
    socket.on('connect', () => {
      connected = true;
      socket.write(commands.map(encode).join(''));
    });
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      let pos = 0;
      try {
        for (let r = parseReply(buf, pos); r; r = parseReply(buf, pos)) {
          replies.push(r.value);
          pos = r.end;
        }
      } catch (err) {
        finish(err as Error);
        return;
      }
      buf = buf.subarray(pos);
      if (replies.length >= commands.length) finish();
    });
    socket.on('error', (err) => finish(untilClose && connected ? undefined : err));
    socket.on('close', () =>
      finish(untilClose ? undefined : new Error(`${host}:${port} closed the connection after ${replies.length}/${commands.length} replies`)),
    );
  });
}

export function authCommands(password: string | undefined): string[][] {
  return password === undefined ? [] : [['AUTH', password]];
}

/** One command on a handle (authenticating first); returns the reply, errors as `RedisReplyError` values. */
export async function command(handle: RedisAddress, args: string[]): Promise<Reply> {
  const auth = authCommands(handle.password);
  const replies = await sendCommands(handle.host, handle.port, [...auth, args]);
  return replies[auth.length]!;
}

export async function infoSection(handle: RedisAddress, section: string): Promise<string> {
  const info = await command(handle, ['INFO', section]);
  return typeof info === 'string' ? info : '';
}
