import { afterEach } from 'vitest';
import { RawClient, type Frame, type TestGateway } from '@herald/test-support';

/** A frame as message recovery extends it (docs/reference/protocol.md#message-recovery). */
export type Positioned = Frame & { position?: string; recovery?: { recovered: boolean; reason?: string } };

export const SUCCEEDED = 'pusher_internal:subscription_succeeded';

/** What a test opened (gateways, clients), disposed after each test, the last opened first. */
export function disposedAfterEach(): AsyncDisposable[] {
  const open: AsyncDisposable[] = [];
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o[Symbol.asyncDispose]();
  });
  return open;
}

/** A raw client of the gateway, disposed with `open`. */
export async function rawClient(t: TestGateway, open: AsyncDisposable[]): Promise<RawClient> {
  const c = await RawClient.established(t);
  open.push(c);
  return c;
}

/** Subscribes with an optional position; resolves to the succeeded (or error) frame. */
export async function subscribe(c: RawClient, channel: string, extra: Record<string, unknown> = {}): Promise<Positioned> {
  const before = c.frames.length;
  c.send({ event: 'pusher:subscribe', data: { auth: '', channel, ...extra } });
  return await c.waitFor((x) => c.frames.indexOf(x) >= before && x.channel === channel && (x.event === SUCCEEDED || x.event === 'pusher:subscription_error'));
}

export const offsetOf = (p: string) => Number(p.split(':')[1]);
