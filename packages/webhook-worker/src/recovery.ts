import type { RedisClient, RedisKeys, RedisWebhooks } from '@herald/broker';
import type { ReportedCopy } from './reported-copy.js';
import type { WebhookLogger } from '@herald/webhooks';

export interface RecoveryOptions {
  client: RedisClient;
  keys: RedisKeys;
  webhooks: RedisWebhooks;
  copy: ReportedCopy;
  /** This worker's node id (its own registration is not waited for). */
  nodeId: string;
  /** The gateways' lease: how long a node that does not come back may take to be taken for dead. */
  leaseMs: number;
  /** Schedules a check of every channel Redis knows and of every channel in `channels`. */
  reconcile(channels: Iterable<{ appId: string; channel: string }>): Promise<void>;
  log: WebhookLogger;
}

const RETRY_MS = 1000;
const REGISTRATIONS_EVERY_MS = 1000;

/**
 * What the worker does after Redis may have lost or missed something (a reconnect, a restart
 * without persistence, a failover, a new Cluster primary): runs once per request, coalescing those
 * that come while it runs, retrying until it succeeds.
 *
 * 1. The outbox's consumer group and the dataset id (event ids) exist.
 * 2. The reported state of every channel is written back where Redis holds an older one.
 * 3. After a reconnect, it waits until every node registered before the outage has registered its
 *    local state again (its token in `registered` changed), for at most the lease plus a margin:
 *    compared earlier, a channel whose gateway had not yet come back would read as vacated.
 *    Checks wait until then (`restored`), so none compares with a state Redis forgot or a node
 *    has not written back yet.
 * 4. Every channel in Redis or in the copy is checked: a channel that emptied during the outage is
 *    in the copy only, and gets its channel_vacated.
 */
export class Recovery {
  #pending: { reasons: string[]; waitForNodes: boolean } | undefined;
  #running: Promise<void> | undefined;
  #restored: Promise<void> = Promise.resolve();
  #releaseRestored: (() => void) | undefined;
  #registrations = new Map<string, string>();
  #registrationsTimer: NodeJS.Timeout | undefined;
  #closed = false;
  runs = 0;

  constructor(private readonly o: RecoveryOptions) {}

  /** Follows the nodes' registrations, so that after an outage it knows whom to wait for; resolves after the first read. */
  start(): Promise<void> {
    const poll = () =>
      this.#pending === undefined && this.#running === undefined
        ? this.#readRegistrations().catch(() => undefined /* read again next time */)
        : Promise.resolve();
    this.#registrationsTimer = setInterval(() => void poll(), REGISTRATIONS_EVERY_MS);
    this.#registrationsTimer.unref();
    return poll();
  }

  /** Resolves once no restore is pending: checks wait on it. */
  get restored(): Promise<void> {
    return this.#restored;
  }

  /** True while a recovery is pending or running. */
  get active(): boolean {
    return this.#pending !== undefined || this.#running !== undefined;
  }

  request(reason: string, waitForNodes: boolean): void {
    if (this.#closed) return;
    if (this.#pending === undefined) {
      this.#pending = { reasons: [], waitForNodes: false };
      // Checks hold from now on: Redis may have forgotten what was reported.
      if (this.#releaseRestored === undefined) this.#restored = new Promise((r) => (this.#releaseRestored = r));
    }
    this.#pending.reasons.push(reason);
    this.#pending.waitForNodes ||= waitForNodes;
    this.#kick();
  }

  #kick(): void {
    if (this.#running !== undefined) return;
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
      // A request that came as the loop was ending.
      if (this.#pending !== undefined && !this.#closed) this.#kick();
    });
  }

  async #loop(): Promise<void> {
    while (this.#pending !== undefined && !this.#closed) {
      const job = this.#pending;
      this.#pending = undefined;
      try {
        await this.#run(job.reasons, job.waitForNodes);
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message, reasons: job.reasons }, 'recovery failed; retrying');
        // A request may have come meanwhile (the field changed under the await).
        const next = this.#pending as typeof job | undefined;
        if (next === undefined) this.#pending = job;
        else next.waitForNodes ||= job.waitForNodes;
        await new Promise((r) => setTimeout(r, RETRY_MS).unref());
      }
    }
    if (this.#pending === undefined) this.#release();
  }

  async #run(reasons: string[], waitForNodes: boolean): Promise<void> {
    const { webhooks, copy, log } = this.o;
    const t0 = Date.now();
    const known = new Map(this.#registrations);
    await webhooks.ensureGroup();
    await webhooks.syncEpoch();
    let restored = 0;
    const entries = [...copy.entries()];
    for (let i = 0; i < entries.length; i += 500) {
      const chunk = entries.slice(i, i + 500);
      const r = await Promise.all(chunk.map((e) => webhooks.restoreReported(e.appId, e.channel, e.state)));
      restored += r.filter(Boolean).length;
    }
    let waitedMs = 0;
    if (waitForNodes) waitedMs = await this.#waitForNodes(known);
    // Checks may run again: Redis holds at least what was reported and, after a reconnect, every
    // node's local state again. Released before the nodes were back, a check of a channel that a
    // slower gateway had not registered again yet reported its members removed (and added again
    // once it had).
    if (this.#pending === undefined) this.#release();
    await this.o.reconcile(entries);
    this.runs++;
    log.info(
      { reasons, restored, copied: entries.length, waitedForNodesMs: waitedMs, tookMs: Date.now() - t0 },
      'recovered: reported state restored where missing, every channel checked',
    );
  }

  /** Waits until each node of `before` has a new registration token (or the bound passed); returns the ms waited. */
  async #waitForNodes(before: Map<string, string>): Promise<number> {
    const t0 = Date.now();
    const deadline = t0 + this.o.leaseMs + 2000;
    const others = [...before.keys()].filter((n) => n !== this.o.nodeId);
    while (others.length > 0 && Date.now() < deadline && !this.#closed) {
      const now = await this.o.client.hgetall(this.o.keys.registered()).catch(() => undefined);
      if (now !== undefined && others.every((n) => now[n] !== undefined && now[n] !== before.get(n))) break;
      await new Promise((r) => setTimeout(r, 100).unref());
    }
    const waited = Date.now() - t0;
    if (Date.now() >= deadline)
      this.o.log.warn({ nodes: others.length, waitedMs: waited }, 'not every node registered again after the outage: comparing states anyway');
    return waited;
  }

  async #readRegistrations(): Promise<void> {
    const all = await this.o.client.hgetall(this.o.keys.registered());
    this.#registrations = new Map(Object.entries(all));
  }

  #release(): void {
    const release = this.#releaseRestored;
    this.#releaseRestored = undefined;
    release?.();
  }

  close(): void {
    this.#closed = true;
    if (this.#registrationsTimer !== undefined) clearInterval(this.#registrationsTimer);
    this.#release();
  }
}
