import { expect as globalExpect, type ExpectStatic } from 'vitest';
import WebSocket from 'ws';
import type { RawClient } from './raw-client.js';

/**
 * The socket is still open and answers: a ping gets a pong, and no close code was seen. A test that
 * runs concurrently passes its context's `expect`.
 */
export async function expectOpen(c: RawClient, expect: ExpectStatic = globalExpect): Promise<void> {
  expect(c.ws.readyState).toBe(WebSocket.OPEN);
  const mark = c.frames.length;
  c.send({ event: 'pusher:ping', data: {} });
  // a pong received after the ping was sent (earlier pings of a burst may still be answered before it)
  await expect.poll(() => c.frames.slice(mark).some((f) => f.event === 'pusher:pong')).toBe(true);
  expect(c.closeCode).toBeUndefined();
}
