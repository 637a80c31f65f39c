/**
 * A gateway SIGKILLed under load while a publisher runs through another node: the other nodes'
 * sockets stay open and keep receiving every event (exactly once, in order), the dead node's
 * presence members and subscriptions disappear within the lease bound, and the REST counts
 * converge to what is left.
 */
import { describe, expect, it } from 'vitest';
import {
  channelsInfo,
  clientPool,
  type NodeHandle,
  presenceUsers,
  publisher,
  randomTestApp,
  type RawClient,
  redisAndNodes,
  seqs,
  strictlyIncreasing,
} from '@herald/test-support';

const LEASE_MS = 2000;
const PER_NODE = 10;

describe('a gateway SIGKILLed under load', () => {
  const cluster = redisAndNodes();

  it('other nodes keep their sockets and receive every event; the dead node is reaped within the lease bound', { timeout: 120_000 }, async () => {
    const app = randomTestApp();
    const nodes = await cluster.gateways(app, 3, LEASE_MS);
    const [g0, g1, g2] = nodes as [NodeHandle, NodeHandle, NodeHandle];
    const pool = clientPool(app);
    try {
      const onNode = new Map<NodeHandle, RawClient[]>([
        [g1, []],
        [g2, []],
      ]);
      for (const g of [g1, g2]) {
        for (let i = 0; i < PER_NODE; i++) {
          const r = await pool.open(g);
          await pool.subscribe(r, 'news');
          await pool.join(g, r, 'presence-lobby', `${g === g1 ? 'a' : 'b'}${i}`);
          onNode.get(g)!.push(r);
        }
      }
      await expect
        .poll(() => channelsInfo(g0.apiPort, app))
        .toEqual({
          channels: { news: { subscription_count: 2 * PER_NODE }, 'presence-lobby': { subscription_count: 2 * PER_NODE } },
        });

      const pub = publisher(app, () => g0, 'news', 'tick', 10);
      await expect.poll(() => pool.all.every((r) => seqs(r).length > 5)).toBe(true);
      const killedAt = pub.seq;
      const t0 = Date.now();
      await g2.kill('SIGKILL');
      const survivors = onNode.get(g1)!;
      // Presence members of the dead node: member_removed on the survivors within the lease bound.
      await expect.poll(() => survivors.every((r) => r.events('pusher_internal:member_removed').length === PER_NODE), { timeout: 30_000 }).toBe(true);
      const reapMs = Date.now() - t0;
      // Reaped once the lease has run out (~1.25 × lease); generous for a busy machine, while a reaper that
      // waited for anything but the lease (a restart, say) would still fail it.
      expect(reapMs).toBeLessThan(LEASE_MS + 10_000);
      await expect.poll(() => pub.seq > killedAt + 100).toBe(true);
      await pub.stop();
      const last = pub.ok[pub.ok.length - 1]!;
      await expect.poll(() => survivors.every((r) => seqs(r).includes(last))).toBe(true);

      for (const r of survivors) {
        expect(r.closeCode).toBeUndefined();
        const got = seqs(r);
        expect(strictlyIncreasing(got)).toBe(true);
        // Every successful trigger from the first one received to the end, none missing.
        expect(got).toEqual(pub.ok.filter((s) => s >= got[0]!));
      }
      // The dead node's sockets were cut.
      for (const r of onNode.get(g2)!) expect(await r.closed).toBe(1006);
      // Counts and presence converge to the survivors.
      for (const n of [g0, g1]) {
        await expect
          .poll(() => channelsInfo(n.apiPort, app))
          .toEqual({
            channels: { news: { subscription_count: PER_NODE }, 'presence-lobby': { subscription_count: PER_NODE } },
          });
        expect(await presenceUsers(n.apiPort, app, 'presence-lobby')).toEqual(Array.from({ length: PER_NODE }, (_, i) => `a${i}`).sort());
      }
      expect(pub.failed).toBe(0);
      for (const n of [g0, g1]) expect(n.proc.exitCode).toBeNull();
      console.log(
        `gateway kill: members reaped ${reapMs} ms after SIGKILL (lease ${LEASE_MS} ms); ${pub.ok.length} triggers, 0 failed, every one delivered once to ${survivors.length} survivors`,
      );
    } finally {
      await pool.closeAll();
    }
  });
});
