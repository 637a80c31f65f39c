import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, type RedisHandle, startRedis, startTestGateway } from '@herald/test-support';
import { IDLE_QUEUE } from '../src/socket-data.js';

/**
 * Frames of one socket are handled in order; while a handler waits on Redis the next ones queue.
 * The queue is bounded: a flood of subscribes that each wait on a round trip cannot hold their
 * closures (and decoded payloads) in memory without limit.
 */
describe('a socket whose frames pile up (clustered: every subscribe waits on Redis)', () => {
  let redis: RedisHandle;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  const presenceSubscribe = (t: Awaited<ReturnType<typeof startTestGateway>>, c: RawClient, channel: string) => {
    const member = { user_id: 'flooder', user_info: { pad: 'x'.repeat(900) } };
    const a = t.sdk.authorizeChannel(c.socketId, channel, member);
    return { event: 'pusher:subscribe', data: { channel, auth: a.auth, channel_data: a.channel_data } };
  };

  it('one frame over the bound closes that socket with pusher:error and close 4301, counted; others are unaffected', async () => {
    await using t = await startTestGateway({ redis: { url: redis.url }, maxQueuedFrames: 100 });
    await using bystander = await RawClient.established(t);
    await bystander.subscribe('lobby');
    await using flooder = await RawClient.established(t);
    // Built first, sent in one go: they reach the gateway faster than Redis answers the first join.
    const frames = Array.from({ length: 1000 }, (_, i) => JSON.stringify(presenceSubscribe(t, flooder, `presence-flood-${i}`)));
    for (const f of frames) flooder.send(f);
    expect(await flooder.closed).toBe(4301);
    const err = flooder.events('pusher:error').at(-1)!;
    expect(err.data).toEqual({ code: 4301, message: 'Too many frames waiting (max 100): slow down' });
    // Fewer than all of them were handled: the rest were never queued.
    expect(flooder.events('pusher_internal:subscription_succeeded').length + flooder.events('pusher:subscription_error').length).toBeLessThan(1000);
    const metrics = await (await fetch(`${t.apiUrl}/metrics`)).text();
    expect(metrics).toMatch(/herald_limit_refusals_total\{limit="frame_queue",node="test-node"\} 1\b/);
    // The bystander still works, and the flooder's state is undone (no member left behind).
    await t.sdk.trigger('lobby', 'still-here', {});
    await bystander.waitFor((f) => f.event === 'still-here');
    await expect
      .poll(
        async () =>
          Object.keys(
            ((await t.sdk.get({ path: '/channels', params: { filter_by_prefix: 'presence-flood-' } }).then((r) => r.json())) as { channels: object }).channels,
          ).length,
      )
      .toBe(0);
  });

  it('a burst under the bound is served in order, nothing refused', async () => {
    await using t = await startTestGateway({ redis: { url: redis.url }, maxQueuedFrames: 100 });
    await using c = await RawClient.established(t);
    const frames = Array.from({ length: 60 }, (_, i) => JSON.stringify(presenceSubscribe(t, c, `presence-ok-${i}`)));
    for (const f of frames) c.send(f);
    await expect.poll(() => c.events('pusher_internal:subscription_succeeded').length, { timeout: 30_000 }).toBe(60);
    expect(c.events('pusher_internal:subscription_succeeded').map((f) => f.channel)).toEqual(frames.map((_, i) => `presence-ok-${i}`));
    expect(c.closeCode).toBeUndefined();
  });

  it('once its frames are handled, a socket holds no queue of its own: it is back on the shared settled one', async () => {
    await using t = await startTestGateway({ redis: { url: redis.url } });
    await using c = await RawClient.established(t);
    // A boolean: expect.poll would wait for a promise returned to it.
    const idle = () => t.gw.sockets.get(c.socketId)!.getUserData().queue === IDLE_QUEUE;
    expect(idle()).toBe(true);
    const frames = Array.from({ length: 20 }, (_, i) => JSON.stringify(presenceSubscribe(t, c, `presence-idle-${i}`)));
    for (const f of frames) c.send(f);
    await expect.poll(() => c.events('pusher_internal:subscription_succeeded').length, { timeout: 30_000 }).toBe(20);
    await expect.poll(idle).toBe(true);
    // A frame after that is handled as ever, and the queue settles back again.
    await c.subscribe('after-idle');
    await expect.poll(idle).toBe(true);
    expect(c.closeCode).toBeUndefined();
  });
});
