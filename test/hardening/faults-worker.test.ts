/**
 * The webhook worker SIGKILLed under load and restarted: while client events stream through two
 * gateways and channels and presence members come and go (some changes pending in the dying
 * worker's debounce window, some made while no worker runs), the webhook stream, de-duplicated by
 * the X-Herald-Event-Ids header, must be exactly the expected one: each real transition once, in
 * order per channel, and every client event once.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  clientPool,
  randomTestApp,
  type RawClient,
  redisAndNodes,
  sdkFor,
  startNode,
  startWebhookReceiver,
  uniquePrefix,
  type WebhookEventRecord,
} from '@herald/test-support';

const label = (e: WebhookEventRecord) => (e.user_id !== undefined && e.name !== 'client_event' ? `${e.name}:${e.user_id}` : String(e.name));
const byChannel = (events: WebhookEventRecord[], channel: string) => events.filter((e) => e.channel === channel && e.name !== 'client_event').map(label);

describe('the webhook worker SIGKILLed under load and restarted', () => {
  const fx = redisAndNodes();
  const procs = fx.nodes;

  it('the de-duplicated webhook stream is exactly the expected one', { timeout: 120_000 }, async () => {
    const app = randomTestApp();
    const rx = await startWebhookReceiver(app);
    const pool = clientPool(app);
    const senders: { r: RawClient; sent: number[]; on: boolean; loop: Promise<void> }[] = [];
    try {
      const prefix = uniquePrefix();
      // Client events are rate-limited per connection (10/s by default, in a window started by the first
      // event): the ~8/s load below must never meet the limit, even when a busy gateway reads a stalled
      // second's frames in one burst.
      const appsFile = join(mkdtempSync(join(tmpdir(), 'herald-worker-kill-')), 'apps.json');
      writeFileSync(appsFile, JSON.stringify([{ ...app, webhooks: [{ url: rx.url }], maxClientEventsPerSecond: 1000 }]));
      const env = { PUSH_APPS_FILE: appsFile, PUSH_WEBHOOK_DELAY_MS: '1000', PUSH_NODE_LEASE_MS: '2000', PUSH_WEBHOOK_CLAIM_MS: '5000' };
      const [g0, g1] = await Promise.all([0, 1].map((i) => startNode({ app, redisUrl: fx.redis.url, prefix, nodeId: `g${i}-${prefix}`, env })));
      procs.push(g0!, g1!);
      const startWorker = async () => {
        const w = await startNode({ app, redisUrl: fx.redis.url, prefix, nodeId: `w-${prefix}`, env, role: 'worker' });
        procs.push(w);
        return w;
      };
      let worker = await startWorker();
      const gw = (i: number) => (i % 2 === 0 ? g0! : g1!);

      // Client event load: three senders (two nodes) at ~8/s each on a private channel with a
      // listener, numbered so that each can be found in the stream.
      const listener = await pool.open(g1!);
      const chat = 'private-load';
      const auth = (r: RawClient) => sdkFor(app, g0!).authorizeChannel(r.socketId, chat).auth;
      expect((await listener.subscribe(chat, { auth: auth(listener) })).event).toBe('pusher_internal:subscription_succeeded');
      for (let i = 0; i < 3; i++) {
        const r = await pool.open(gw(i));
        expect((await r.subscribe(chat, { auth: auth(r) })).event).toBe('pusher_internal:subscription_succeeded');
        const s = { r, sent: [] as number[], on: true };
        // The loop reads `on` from the same object the test switches off through `senders`.
        const loop = (async () => {
          let n = 0;
          while (s.on) {
            const seq = i * 100_000 + n++;
            r.send({ event: 'client-load', channel: chat, data: { seq } });
            s.sent.push(seq);
            await new Promise((res) => setTimeout(res, 125));
          }
        })();
        senders.push(Object.assign(s, { loop }));
      }

      // Phase 1, worker up: 20 channels and 5 presence members, reported.
      const channels: RawClient[] = [];
      for (let i = 0; i < 20; i++) {
        const r = await pool.open(gw(i));
        await pool.subscribe(r, `ch-${i}`);
        channels.push(r);
      }
      const members: RawClient[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await pool.open(gw(i));
        await pool.join(gw(i), r, 'presence-load', `p${i}`);
        members.push(r);
      }
      await expect.poll(() => rx.unique().filter((e) => e.name === 'channel_occupied').length).toBe(20 + 1 + 1);
      await expect.poll(() => rx.unique().filter((e) => e.name === 'member_added').length).toBe(5);

      // Phase 2: the receiver slows down (a batch in flight, more waiting behind it in the worker);
      // ten channels are vacated; the worker is killed inside their debounce window.
      rx.hold();
      const heldAt = rx.delivered().length;
      for (let i = 0; i < 10; i++) await pool.close(channels[i]!);
      const sentAtHold = senders.reduce((n, s) => n + s.sent.length, 0);
      await expect.poll(() => rx.delivered().length > heldAt && senders.reduce((n, s) => n + s.sent.length, 0) > sentAtHold + 10).toBe(true);
      await worker.kill('SIGKILL');
      rx.release();
      const sentAtKill = senders.reduce((n, s) => n + s.sent.length, 0);

      // Phase 3, no worker: more vacated, new channels, members leave and join.
      for (let i = 10; i < 15; i++) await pool.close(channels[i]!);
      for (let i = 20; i < 26; i++) {
        const r = await pool.open(gw(i));
        await pool.subscribe(r, `ch-${i}`);
      }
      await pool.close(members[0]!);
      await pool.close(members[1]!);
      const late = await pool.open(g1!);
      await pool.join(g1!, late, 'presence-load', 'p5');
      // Client events keep flowing while no worker runs (they wait in the Redis outbox).
      await expect.poll(() => senders.reduce((n, s) => n + s.sent.length, 0)).toBeGreaterThan(sentAtKill + 15);

      // Phase 4: a new worker, same id; the load goes on for a while, then stops.
      worker = await startWorker();
      await expect.poll(() => byChannel(rx.unique(), 'ch-25')).toEqual(['channel_occupied']);
      for (const s of senders) s.on = false;
      await Promise.all(senders.map((s) => s.loop));
      const sent = senders.flatMap((s) => s.sent).sort((a, b) => a - b);
      // The listener got every client event (the relay path), so the gateways accepted them all.
      await expect.poll(() => listener.events('client-load').length).toBe(sent.length);

      // Everything arrives, once each after de-duplication.
      const clientSeqs = () =>
        rx
          .unique()
          .filter((e) => e.name === 'client_event')
          .map((e) => (JSON.parse(e.data as string) as { seq: number }).seq);
      await expect.poll(() => clientSeqs().length).toBe(sent.length);
      // Presence: occupied first; then, per member (members are independent of each other), added
      // and removed in order.
      const perMember = () => {
        const evs = byChannel(rx.unique(), 'presence-load');
        const out: Record<string, string[]> = { channel: evs.filter((e) => !e.includes(':')) };
        for (const e of evs.filter((x) => x.includes(':'))) (out[e.split(':')[1]!] ??= []).push(e.split(':')[0]!);
        return { first: evs[0], ...out };
      };
      await expect.poll(perMember).toEqual({
        first: 'channel_occupied',
        channel: ['channel_occupied'],
        p0: ['member_added', 'member_removed'],
        p1: ['member_added', 'member_removed'],
        p2: ['member_added'],
        p3: ['member_added'],
        p4: ['member_added'],
        p5: ['member_added'],
      });
      for (let i = 0; i < 26; i++) {
        const want = i < 15 ? ['channel_occupied', 'channel_vacated'] : ['channel_occupied'];
        await expect.poll(() => byChannel(rx.unique(), `ch-${i}`)).toEqual(want);
      }
      // Exactly those: no other channel, no extra event.
      const unique = rx.unique();
      expect(new Set(unique.map((e) => e.channel))).toEqual(new Set([...Array.from({ length: 26 }, (_, i) => `ch-${i}`), 'presence-load', chat]));
      expect(byChannel(unique, chat)).toEqual(['channel_occupied']);
      expect(clientSeqs().sort((a, b) => a - b)).toEqual(sent);
      expect(rx.delivered().every((h) => h.valid)).toBe(true);
      expect(rx.delivered().every((h) => h.eventIds.length === h.events.length)).toBe(true);
      const dupes = rx.events().length - unique.length;
      console.log(`worker kill: ${unique.length} distinct events (${sent.length} client events), ${dupes} re-delivered duplicates removed by event id`);
      // Last: per sender (one channel, one socket), client events arrive in the order sent
      // (README: "per app and webhook URL, batches go one at a time; events arriving meanwhile
      // wait and follow in order").
      for (let i = 0; i < 3; i++) {
        const mine = clientSeqs()
          .filter((s) => Math.floor(s / 100_000) === i)
          .map((s) => s % 100_000);
        const late = mine.filter((s, k) => k > 0 && s < Math.max(...mine.slice(0, k)));
        expect({ sender: i, deliveredAfterLaterOnes: late }).toEqual({ sender: i, deliveredAfterLaterOnes: [] });
      }
    } finally {
      for (const s of senders) s.on = false;
      await Promise.all(senders.map((s) => s.loop));
      await pool.closeAll();
      await rx.close();
    }
  });
});
