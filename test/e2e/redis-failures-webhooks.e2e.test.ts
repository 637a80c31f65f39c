/**
 * Webhooks and triggers across Redis failures, on every topology, with real processes and no
 * process restarted by hand: one server SIGKILLed and restarted empty; a Sentinel primary
 * SIGKILLed (the replica promoted); a Redis Cluster primary SIGKILLed (its replica promoted), once
 * holding channels only and once holding the worker's own keys.
 *
 * In each: channels and presence members opened before the failure, closed, joined and opened
 * while Redis is failing, and changed again after it; every transition must be reported exactly
 * once (de-duplicated by event id, the receivers' documented rule) and in order per channel and
 * user, within the webhook delay plus a bounded recovery time; the worker's /ready must say 503
 * while it cannot hear every primary, and 200 again after; every trigger answered 200 must have
 * been published (received by a subscriber on another gateway).
 */
import { Cluster } from 'ioredis';
import Pusher from 'pusher';
import { describe, type ExpectStatic, it, type OnTestFinishedHandler } from 'vitest';
import {
  type NodeHandle,
  nodeOutputs,
  randomTestApp,
  RawClient,
  type RedisHandle,
  startNode,
  startRedis,
  startRedisCluster,
  startSentinelSet,
  startWebhookReceiver,
  type TestApp,
  uniquePrefix,
  type WebhookEventRecord,
} from '@herald/test-support';

/** The recovery bound the worker promises on top of the webhook delay, measured from Redis being usable again. */
const RECOVERY_BOUND_MS = 15_000;
const DELAY_MS = 1000;

interface Topology {
  env: Record<string, string>;
  /** The failure is a restart: Redis is dead until `back()` begins. */
  restarts?: boolean;
  /** Names of the four channels, chosen (on Cluster) so that their keys live on the shard that fails. */
  names: { keep: string; gone: string; fresh: string; room: string };
  fail(): Promise<void>;
  /** Resolves once Redis is usable again (restarted, or the replica promoted). */
  back(): Promise<void>;
  stop(): Promise<void>;
}

const plainNames = { keep: 'keep', gone: 'gone', fresh: 'fresh', room: 'presence-room' };

async function single(): Promise<Topology> {
  const redis = await startRedis();
  return {
    env: { REDIS_URL: redis.url },
    restarts: true,
    names: plainNames,
    fail: () => redis.kill(),
    back: () => redis.restart(),
    stop: () => redis.stop(),
  };
}

/** `allDataNodes`: the failure kills the replica too (no primary left), not only the primary. */
async function sentinel(expect: ExpectStatic, opts: { allDataNodes?: boolean } = {}): Promise<Topology> {
  const set = await startSentinelSet();
  const [s0] = set.sentinels as [RedisHandle];
  const primaryPort = async () => {
    const c = new (await import('ioredis')).Redis({ host: s0.host, port: s0.port, lazyConnect: true });
    try {
      await c.connect();
      const addr = (await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', set.name)) as [string, string];
      return Number(addr[1]);
    } finally {
      c.disconnect();
    }
  };
  return {
    env: { REDIS_SENTINELS: set.sentinels.map((s) => `${s.host}:${s.port}`).join(','), REDIS_SENTINEL_NAME: set.name },
    names: plainNames,
    fail: async () => {
      await set.primary.kill();
      if (opts.allDataNodes === true) await set.replica.kill();
    },
    back: async () => {
      await expect.poll(primaryPort, { timeout: 30_000, interval: 200 }).toBe(set.replica.port);
    },
    stop: () => set.stop(),
  };
}

/** A Cluster whose failing primary holds the test's channels, or the worker's own keys (`{wh}`) too. */
async function cluster(expect: ExpectStatic, appId: string, prefix: string, failing: 'channels' | 'worker keys'): Promise<Topology> {
  const rc = await startRedisCluster();
  const c = new Cluster(rc.nodes, { lazyConnect: true });
  await c.connect();
  // CLUSTER SLOTS: one [start, end, primary, ...replicas] per range, a node being [host, port, id, info].
  const ranges = (await c.cluster('SLOTS')).map(([start, end, primary]) => ({ start, end, port: primary![1] }));
  const portOf = (slot: number) => ranges.find((r) => slot >= r.start && slot <= r.end)!.port;
  const slotOf = async (key: string) => Number(await c.cluster('KEYSLOT', key));
  const whPort = portOf(await slotOf(`${prefix}:{wh}:outbox`));
  // The failing primary: the one with the worker's keys, or another one (channels only).
  const target = failing === 'worker keys' ? whPort : ranges.map((r) => r.port).find((p) => p !== whPort)!;
  const pick = async (base: string) => {
    for (let i = 0; ; i++) {
      const name = `${base}-${i}`;
      if (portOf(await slotOf(`${appId}:${name}`)) === target) return name;
    }
  };
  const names = { keep: await pick('keep'), gone: await pick('gone'), fresh: await pick('fresh'), room: await pick('presence-room') };
  c.disconnect();
  const victim = rc.handles.find((h) => h.port === target)!;
  const others = rc.handles.filter((h) => h !== victim);
  return {
    env: { REDIS_CLUSTER_NODES: rc.nodes.map((n) => `${n.host}:${n.port}`).join(',') },
    names,
    fail: () => victim.kill(),
    back: async () => {
      // The replica promoted, and every live node agrees the cluster is whole again.
      await expect
        .poll(
          async () => {
            for (const h of others) {
              const probe = new (await import('ioredis')).Redis({ host: h.host, port: h.port, lazyConnect: true, maxRetriesPerRequest: 1 });
              try {
                await probe.connect();
                const info = String(await probe.cluster('INFO'));
                if (!info.includes('cluster_state:ok')) return `${h.port}: ${/cluster_state:\w+/.exec(info)?.[0]}\n${String(await probe.cluster('NODES'))}`;
              } catch (err) {
                return `${h.port}: ${(err as Error).message}`;
              } finally {
                probe.disconnect();
              }
            }
            return true;
          },
          { timeout: 30_000, interval: 200 },
        )
        .toBe(true);
    },
    stop: () => rc.stop(),
  };
}

const label = (e: WebhookEventRecord) => (e.user_id ? `${e.name}:${e.user_id}` : String(e.name));

/** An error's message and its causes' (expect.poll's "did not succeed in time" has the assertion as its cause). */
const reasons = (err: unknown): string => {
  const out: string[] = [];
  for (let e = err; e instanceof Error; e = e.cause) out.push(e.message);
  return out.join(': ');
};

/** What a test started, stopped in reverse order once it finished. */
function cleanupOf(onTestFinished: (fn: OnTestFinishedHandler) => void): (() => Promise<unknown>)[] {
  const cleanup: (() => Promise<unknown>)[] = [];
  onTestFinished(async () => {
    for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
  });
  return cleanup;
}

// Each test has its own Redis topology, nodes, receiver and key prefix, and spends most of its time
// waiting (for failovers, the webhook delay, the recovery): they run side by side, each with the
// expect and the clean-up of its own context.
describe.concurrent('webhooks and triggers across Redis failures', () => {
  async function scenario(
    { expect, cleanup }: { expect: ExpectStatic; cleanup: (() => Promise<unknown>)[] },
    make: (app: TestApp, prefix: string) => Promise<Topology>,
  ) {
    const app = randomTestApp();
    const prefix = uniquePrefix();
    const topo = await make(app, prefix);
    cleanup.push(() => topo.stop());
    const rx = await startWebhookReceiver(app);
    cleanup.push(() => rx.close());
    const env = {
      ...topo.env,
      PUSH_REDIS_PREFIX: prefix,
      PUSH_WEBHOOK_URL: rx.url,
      PUSH_WEBHOOK_DELAY_MS: String(DELAY_MS),
      PUSH_NODE_LEASE_MS: '2000',
      // info: a failure's message then shows each node's registrations, reaps and recoveries.
      LOG_LEVEL: process.env.TEST_NODE_LOG_LEVEL ?? 'info',
    };
    const nodes: NodeHandle[] = [];
    cleanup.push(() => Promise.all(nodes.map((n) => n.kill('SIGKILL'))));
    const [g0, g1] = await Promise.all([0, 1].map((i) => startNode({ app, role: 'gateway', nodeId: `g${i}-${prefix}`, env })));
    nodes.push(g0!, g1!);
    const worker = await startNode({ app, role: 'worker', nodeId: `w-${prefix}`, env });
    nodes.push(worker);
    const clients: RawClient[] = [];
    cleanup.push(async () => {
      for (const c of clients) await c[Symbol.asyncDispose]();
    });
    const raw = async (g: NodeHandle) => {
      const c = await RawClient.established({ wsPort: g.wsPort, app });
      clients.push(c);
      return c;
    };
    const sdk = (g: NodeHandle) => new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(g.apiPort), useTLS: false });
    const member = async (g: NodeHandle, user: string) => {
      const c = await raw(g);
      const a = sdk(g).authorizeChannel(c.socketId, topo.names.room, { user_id: user });
      c.send({ event: 'pusher:subscribe', data: { channel: topo.names.room, auth: a.auth, channel_data: a.channel_data } });
      await c.waitFor((f) => f.event === 'pusher_internal:subscription_succeeded');
      return c;
    };
    const close = async (c: RawClient) => {
      await c[Symbol.asyncDispose]();
      clients.splice(clients.indexOf(c), 1);
    };
    const { keep, gone, fresh, room } = topo.names;
    const seen = (channel: string) =>
      rx
        .unique()
        .filter((e) => e.channel === channel)
        .map(label);

    // Each step that fails says which it was, when the earlier ones ended (the nodes log epoch ms),
    // the webhooks received so far, and every node's output.
    const done: string[] = [];
    const step = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
      try {
        const out = await run();
        done.push(`${Date.now()} ${name}`);
        return out;
      } catch (err) {
        const webhooks = Object.fromEntries([keep, gone, fresh, room, `${fresh}-later`].map((c) => [c, seen(c)]));
        throw new Error(
          [
            `step "${name}" failed: ${reasons(err)}`,
            `steps done (epoch ms):\n${done.join('\n')}`,
            `webhooks received, per channel: ${JSON.stringify(webhooks)}`,
            nodeOutputs(nodes),
          ].join('\n'),
          { cause: err },
        );
      }
    };

    const { keepSub, goneSub, alice, bob } = await step('steady state before the failure', async () => {
      const keepSub = await raw(g1!);
      await keepSub.subscribe(keep);
      const goneSub = await raw(g0!);
      await goneSub.subscribe(gone);
      const alice = await member(g0!, 'alice');
      const bob = await member(g1!, 'bob');
      await expect.poll(() => [seen(keep), seen(gone), seen(room).length]).toEqual([['channel_occupied'], ['channel_occupied'], 3]);
      return { keepSub, goneSub, alice, bob };
    });

    // The worker's readiness, sampled throughout.
    const readiness: { at: number; status: number }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const status = await fetch(`${worker.apiUrl}/ready`).then(
          (r) => r.status,
          () => 0,
        );
        readiness.push({ at: Date.now(), status });
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    cleanup.push(async () => {
      sampling = false;
      await sampler;
    });

    // --- the failure, and changes while Redis is failing
    const failedAt = Date.now();
    await step('the failure', () => topo.fail());
    // Triggers through g0 from the failure on, to keepSub on g1, one every 100 ms without waiting
    // for the previous answer (some are in flight throughout), until after the recovery.
    const outcomes: { n: number; status: number; sentAt: number; answeredAt: number }[] = [];
    let triggering = true;
    let sentCount = 0;
    const triggers = (async () => {
      const sent: Promise<void>[] = [];
      for (let n = 0; triggering; n++) {
        const sentAt = Date.now();
        sentCount++;
        sent.push(
          sdk(g0!)
            .trigger(keep, 'during', { n })
            .then(
              (r) => r.status,
              (e: { status?: number }) => e.status ?? 0,
            )
            .then((status) => void outcomes.push({ n, status, sentAt, answeredAt: Date.now() })),
        );
        await new Promise((r) => setTimeout(r, 100));
      }
      await Promise.all(sent);
    })();
    await step('the worker not ready (503) during the failure', () =>
      expect.poll(async () => (await fetch(`${worker.apiUrl}/ready`)).status, { timeout: 30_000 }).toBe(503),
    );
    const { carol } = await step('changes during the failure', async () => {
      await close(goneSub);
      await close(bob);
      const carol = await member(g1!, 'carol');
      const freshSub = await raw(g0!);
      freshSub.send({ event: 'pusher:subscribe', data: { channel: fresh } });
      // The failure lasts at least until 20 triggers were sent into it (about 2 s).
      await expect.poll(() => sentCount >= 20).toBe(true);
      return { carol };
    });

    const backBegunAt = Date.now();
    await step('Redis back', () => topo.back());
    const backAt = Date.now();
    await step('the worker ready (200) again within the recovery bound', () =>
      expect.poll(async () => (await fetch(`${worker.apiUrl}/ready`)).status, { timeout: RECOVERY_BOUND_MS }).toBe(200),
    );
    const readyAt = Date.now();

    // --- every transition of the outage reported once, within the delay plus the recovery bound
    await step(`${gone} (vacated during the failure) reported`, () =>
      expect.poll(() => seen(gone), { timeout: DELAY_MS + RECOVERY_BOUND_MS }).toEqual(['channel_occupied', 'channel_vacated']),
    );
    await step(`${fresh} (subscribed on g0 during the failure) reported`, () =>
      expect.poll(() => seen(fresh), { timeout: DELAY_MS + RECOVERY_BOUND_MS }).toEqual(['channel_occupied']),
    );
    const perUser = (u: string) => seen(room).filter((l) => l.endsWith(`:${u}`));
    await step(`${room}'s members reported`, () =>
      expect
        .poll(() => [perUser('alice'), perUser('bob'), perUser('carol')], { timeout: DELAY_MS + RECOVERY_BOUND_MS })
        .toEqual([['member_added:alice'], ['member_added:bob', 'member_removed:bob'], ['member_added:carol']]),
    );
    const reportedAt = Date.now();

    const { after, acceptedNotReceived, settledAt } = await step('triggers during and after the failure', async () => {
      // Triggers: once every node is back and the subscriber's node has its channel's topic again
      // (a Redis Cluster failover moves it to the promoted replica, which can come a retry after
      // /ready), every trigger is 200 and delivered.
      for (const g of [g0!, g1!]) await expect.poll(async () => (await fetch(`${g.apiUrl}/ready`)).status).toBe(200);
      const readyAt = Date.now();
      const receivedNow = () => new Set(keepSub.events('during').map((f) => (JSON.parse(f.data as string) as { n: number }).n));
      let settledAt = 0;
      await expect
        .poll(() => {
          const got = receivedNow();
          settledAt = outcomes.find((o) => o.sentAt > readyAt && o.status === 200 && got.has(o.n))?.sentAt ?? 0;
          return settledAt;
        })
        .toBeGreaterThan(0);
      await expect.poll(() => outcomes.filter((o) => o.sentAt > settledAt).length).toBeGreaterThanOrEqual(10);
      triggering = false;
      await triggers;
      const received = receivedNow();
      expect(outcomes.filter((o) => o.status !== 200 && o.status !== 503)).toEqual([]);
      const after = outcomes.filter((o) => o.sentAt > settledAt);
      expect(after.filter((o) => o.status !== 200 || !received.has(o.n))).toEqual([]);
      // During the failure: a trigger answered 200 was accepted by Redis (it waited for it; 503 if it
      // could not be published in time). One node's subscriber may still have been reconnecting
      // then, and pub/sub does not keep messages for it: counted, not asserted (at-most-once).
      const acceptedNotReceived = outcomes.filter((o) => o.status === 200 && !received.has(o.n));
      expect(acceptedNotReceived.every((o) => o.sentAt < settledAt)).toBe(true);
      // A single server is dead until its restart begins: nothing can be answered 200 before.
      if (topo.restarts) expect(outcomes.filter((o) => o.status === 200 && o.answeredAt < backBegunAt)).toEqual([]);
      return { after, acceptedNotReceived, settledAt };
    });

    await step('steady state after the failure', async () => {
      await close(keepSub);
      const later = await raw(g1!);
      await later.subscribe(`${fresh}-later`);
      await close(alice);
      await close(carol);
      await expect.poll(() => seen(keep), { timeout: DELAY_MS + 10_000 }).toEqual(['channel_occupied', 'channel_vacated']);
      await expect.poll(() => seen(`${fresh}-later`), { timeout: DELAY_MS + 10_000 }).toEqual(['channel_occupied']);
      await expect.poll(() => seen(room), { timeout: DELAY_MS + 10_000 }).toContain('channel_vacated');
      expect(seen(room).filter((l) => l === 'channel_occupied')).toEqual(['channel_occupied']);
      expect(seen(room).at(-1)).toBe('channel_vacated');
      expect(seen(keep)).toEqual(['channel_occupied', 'channel_vacated']);
      expect(rx.delivered().every((h) => h.valid)).toBe(true);
    });

    await step("the worker's readiness throughout", async () => {
      sampling = false;
      await sampler;
      // /ready was 503 once the worker could not hear Redis, and 200 again after.
      const first503 = readiness.findIndex((r) => r.at >= failedAt && r.status === 503);
      expect(first503).toBeGreaterThanOrEqual(0);
      expect(readiness.at(-1)?.status).toBe(200);
    });
    const during = outcomes.filter((o) => o.sentAt <= settledAt);
    return {
      worker,
      timings: {
        readyAfterBackMs: readyAt - backAt,
        reportedAfterBackMs: reportedAt - backAt,
        triggersDuringFailure: `${during.filter((o) => o.status === 200).length} × 200 (${acceptedNotReceived.length} of them missed by the reconnecting node), ${during.filter((o) => o.status === 503).length} × 503`,
        triggersAfter: `${after.length} × 200, all delivered`,
      },
    };
  }

  it.for(['one server', 'Sentinel'] as const)(
    'SIGTERM with Redis gone (%s): the gateway and the worker exit 0 within their stop bound, never crash meanwhile',
    { timeout: 120_000 },
    async (kind, { expect, onTestFinished }) => {
      const cleanup = cleanupOf(onTestFinished);
      const app = randomTestApp();
      const topo = kind === 'one server' ? await single() : await sentinel(expect, { allDataNodes: true });
      cleanup.push(() => topo.stop());
      const prefix = uniquePrefix();
      const env = { ...topo.env, PUSH_REDIS_PREFIX: prefix, PUSH_WEBHOOK_URL: 'http://127.0.0.1:9/hook', PUSH_NODE_LEASE_MS: '2000', PUSH_DRAIN_MS: '0' };
      const gateway = await startNode({ app, role: 'gateway', env });
      const worker = await startNode({ app, role: 'worker', env });
      cleanup.push(() => Promise.all([gateway.kill(), worker.kill()]));
      const c = await RawClient.established({ wsPort: gateway.wsPort, app });
      cleanup.push(() => c[Symbol.asyncDispose]());
      await c.subscribe('pending-webhook');
      await topo.fail();
      await expect.poll(async () => (await fetch(`${worker.apiUrl}/ready`)).status).toBe(503);
      await expect.poll(async () => (await fetch(`${gateway.apiUrl}/ready`)).status).toBe(503);
      // Both stay up while Redis is gone (a few seconds of reconnect attempts), then stop.
      await new Promise((r) => setTimeout(r, 3000));
      expect(worker.proc.exitCode).toBeNull();
      expect(gateway.proc.exitCode).toBeNull();
      const t0 = Date.now();
      const [w, g] = await Promise.all([worker.kill('SIGTERM'), gateway.kill('SIGTERM')]);
      const tookMs = Date.now() - t0;
      expect([w, g]).toEqual([0, 0]);
      // The bound is 10 s for both (PUSH_DRAIN_MS 0); the rest is room for a busy machine.
      expect(tookMs).toBeLessThan(20_000);
      console.log(`stopped with Redis gone in ${tookMs} ms`);
    },
  );

  it('one Redis server SIGKILLed and restarted empty', async ({ expect, onTestFinished }) => {
    const { timings } = await scenario({ expect, cleanup: cleanupOf(onTestFinished) }, () => single());
    console.log('redis restarted empty:', timings);
  }, 180_000);

  it('a Sentinel primary SIGKILLed (the replica promoted)', async ({ expect, onTestFinished }) => {
    const { timings } = await scenario({ expect, cleanup: cleanupOf(onTestFinished) }, () => sentinel(expect));
    console.log('sentinel failover:', timings);
  }, 180_000);

  it('a Redis Cluster primary holding the channels SIGKILLed (its replica promoted)', async ({ expect, onTestFinished }) => {
    const { timings } = await scenario({ expect, cleanup: cleanupOf(onTestFinished) }, (app, prefix) => cluster(expect, app.id, prefix, 'channels'));
    console.log('cluster failover (channels):', timings);
  }, 180_000);

  it("a Redis Cluster primary holding the worker's own keys SIGKILLed (its replica promoted)", async ({ expect, onTestFinished }) => {
    const { timings } = await scenario({ expect, cleanup: cleanupOf(onTestFinished) }, (app, prefix) => cluster(expect, app.id, prefix, 'worker keys'));
    console.log('cluster failover (worker keys):', timings);
  }, 180_000);
});
