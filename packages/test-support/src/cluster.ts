import { afterEach, expect } from 'vitest';
import { startNode, type NodeHandle, type TestApp } from './node-process.js';
import { RawClient } from './raw-client.js';
import { sdkFor } from './sdk.js';
import { redisPerFile, uniquePrefix } from './redis.js';

/**
 * A redis-server for the test file (started before its tests, stopped after them), and the node
 * processes and raw clients of each test: push them on `nodes` / `raws` (the arrays are emptied in
 * place, so they can be aliased), they are closed and SIGKILLed after the test. Call it inside a
 * describe block.
 */
export function redisAndNodes() {
  const file = redisPerFile();
  const f = {
    get redis() {
      return file.redis;
    },
    nodes: [] as NodeHandle[],
    raws: [] as RawClient[],
    /** `count` gateways of `app` on one fresh key prefix, with the given lease; tracked in `nodes`. */
    async gateways(app: TestApp, count: number, leaseMs = 2000, env: Record<string, string> = {}): Promise<NodeHandle[]> {
      const prefix = uniquePrefix();
      const started = await Promise.all(
        Array.from({ length: count }, (_, i) =>
          startNode({ app, redisUrl: f.redis.url, prefix, nodeId: `g${i}-${prefix}`, env: { PUSH_NODE_LEASE_MS: String(leaseMs), ...env } }),
        ),
      );
      f.nodes.push(...started);
      return started;
    },
  };
  afterEach(async () => {
    for (const r of f.raws.splice(0)) await r[Symbol.asyncDispose]();
    await Promise.all(f.nodes.splice(0).map((n) => n.kill('SIGKILL')));
  });
  return f;
}

/** Raw clients of a test, all closed by `closeAll()`. */
export function clientPool(app: TestApp) {
  const all: RawClient[] = [];
  return {
    all,
    async open(node: NodeHandle) {
      const r = await RawClient.established({ wsPort: node.wsPort, app });
      all.push(r);
      return r;
    },
    async subscribe(r: RawClient, channel: string) {
      const f = await r.subscribe(channel);
      expect(f.event, JSON.stringify(f)).toBe('pusher_internal:subscription_succeeded');
    },
    async join(node: NodeHandle, r: RawClient, channel: string, userId: string) {
      const { auth, channel_data } = sdkFor(app, node).authorizeChannel(r.socketId, channel, { user_id: userId });
      const f = await r.subscribe(channel, { auth, channel_data });
      expect(f.event, JSON.stringify(f)).toBe('pusher_internal:subscription_succeeded');
    },
    async close(r: RawClient) {
      await r[Symbol.asyncDispose]();
      all.splice(all.indexOf(r), 1);
    },
    async closeAll() {
      for (const r of all.splice(0)) await r[Symbol.asyncDispose]();
    },
  };
}

/**
 * A publisher loop: triggers `event` on `channel` through `node` with a sequence number every
 * `everyMs`; failed triggers are counted (and lost: delivery is at most once).
 */
export function publisher(app: TestApp, node: () => NodeHandle, channel: string, event = 'tick', everyMs = 20) {
  let seq = 0;
  let failed = 0;
  const ok: number[] = [];
  const refused: { seq: number; status: number | undefined }[] = [];
  let on = true;
  const loop = (async () => {
    while (on) {
      const n = seq++;
      await sdkFor(app, node())
        .trigger(channel, event, { seq: n })
        .then(
          () => ok.push(n),
          (err: { status?: number }) => {
            failed++;
            refused.push({ seq: n, status: err.status });
          },
        );
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    get seq() {
      return seq;
    },
    get failed() {
      return failed;
    },
    /** Sequence numbers whose trigger answered 200. */
    ok,
    /** Triggers that did not answer 200, with their status. */
    refused,
    async stop() {
      on = false;
      await loop;
    },
  };
}

/** The sequence numbers of `event` frames a client received, in arrival order. */
export const seqs = (r: RawClient, event = 'tick') => r.events(event).map((f) => (JSON.parse(f.data as string) as { seq: number }).seq);

/** Strictly increasing: nothing delivered twice, nothing out of order. */
export const strictlyIncreasing = (xs: number[]) => xs.every((v, i) => i === 0 || v > xs[i - 1]!);
