import { expect } from 'vitest';
import type { RawClient } from './raw-client.js';

/** The socket still answers: a ping gets a pong and no close code was seen. */
export async function expectOpen(c: RawClient): Promise<void> {
  const before = c.events('pusher:pong').length;
  c.send({ event: 'pusher:ping', data: {} });
  await expect.poll(() => c.events('pusher:pong').length).toBe(before + 1);
  expect(c.closeCode).toBeUndefined();
}
