import type { ServerResponse } from 'node:http';
import type { DebugFeed, DebugRecord } from '@herald/broker';

/** Records sent to one console per second at most; the rest are counted and reported as skipped. */
const CONSOLE_RECORDS_PER_SECOND = 200;
/** Bytes queued for a browser beyond which records are skipped rather than queued. */
const MAX_QUEUED_BYTES = 256 * 1024;
const PING_MS = 15_000;

export interface DebugStreamOptions {
  feed: DebugFeed;
  appId: string;
  /** This gateway's id, in the first message. */
  node: string;
  now?: () => number;
}

/**
 * One console's Server-Sent Events stream. Records come from the whole cluster through the feed;
 * this end never lets a browser hold a gateway back: past the rate or while the browser's socket
 * has a backlog, records are counted instead of written, and the count goes out once a second.
 * Returns what ends the stream (idempotent).
 */
export function openDebugStream(res: ServerResponse, o: DebugStreamOptions): () => void {
  const now = o.now ?? Date.now;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    // nginx buffers proxied answers unless told not to; a console must see records as they come.
    'x-accel-buffering': 'no',
    // The stream's connection is never reused: ended (console closed, gateway stopping), it closes,
    // so a stopping gateway never waits on it.
    connection: 'close',
  });
  const write = (msg: object) => res.write(`data: ${JSON.stringify(msg)}\n\n`);
  write({ type: 'hello', node: o.node });

  let tokens = CONSOLE_RECORDS_PER_SECOND;
  let refilledAt = now();
  let skipped = 0;
  const take = (): boolean => {
    const t = now();
    tokens = Math.min(CONSOLE_RECORDS_PER_SECOND, tokens + ((t - refilledAt) * CONSOLE_RECORDS_PER_SECOND) / 1000);
    refilledAt = t;
    if (tokens < 1 || res.writableLength > MAX_QUEUED_BYTES) return false;
    tokens -= 1;
    return true;
  };
  const closeFeed = o.feed.open(o.appId, {
    record(record: DebugRecord) {
      if (take()) write({ type: 'record', record });
      else skipped++;
    },
    skipped(count: number) {
      skipped += count;
    },
  });
  let lastPing = now();
  const timer = setInterval(() => {
    if (skipped > 0 && res.writableLength <= MAX_QUEUED_BYTES) {
      write({ type: 'skipped', count: skipped });
      skipped = 0;
    }
    if (now() - lastPing >= PING_MS) {
      lastPing = now();
      res.write(': ping\n\n');
    }
  }, 1000);
  timer.unref();

  let ended = false;
  return () => {
    if (ended) return;
    ended = true;
    clearInterval(timer);
    closeFeed();
    res.end();
  };
}
