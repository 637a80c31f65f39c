import { defineScript, type ScriptCall } from '../define-script.js';
import type { RedisKeys } from '../keys.js';
import { LuaScript } from '../lua.js';
import type { RedisClient } from '../redis-client.js';

export interface NodeLeaseOptions {
  client: RedisClient;
  keys: RedisKeys;
  nodeId: string;
  /** A node whose lease is older than this is dead and reaped by the others. */
  leaseMs: number;
  /** Whether the connections are up (a renewal is skipped while they are not). */
  connected: () => boolean;
}

/**
 * This node's lease in the nodes sorted set (score: expiry). Renewed every leaseMs/3 by its owner;
 * another node that finds it expired removes this node's state (Reaper).
 */
export class NodeLease {
  readonly #o: NodeLeaseOptions;
  readonly #renew: ScriptCall;
  #renewedAt = 0;
  #rttMs = 0;
  #gapMs = 0;
  #lapses = 0;
  #renewing: Promise<boolean> | undefined;
  /** When the current run of on-time renewals began; 0: at the first renewal (none missed since). */
  #heldSince = 0;

  constructor(options: NodeLeaseOptions) {
    this.#o = options;
    this.#renew = defineScript(options.client, 'heraldLeaseRenew', LuaScript.LeaseRenew, 1);
  }

  /** How often the owner renews: two missed renewals stay within the lease. */
  get intervalMs(): number {
    return Math.max(200, Math.floor(this.#o.leaseMs / 3));
  }

  /**
   * Extends the lease. Resolves true when it had lapsed: gone (another node removed this node's
   * state) or expired, or so nearly that another node, its clock a little ahead, may be removing
   * the state now. Either way the state must be registered again. A removal still running then
   * ends with the lease's ZREM, so the next renewal says lapsed again and the state is registered
   * once more, after it. A call made while a renewal is in flight shares it: renewals piled up
   * behind an outage would each write an expiry reckoned when they were sent.
   */
  renew(): Promise<boolean> {
    this.#renewing ??= this.#renewOnce(true).finally(() => (this.#renewing = undefined));
    return this.#renewing;
  }

  async #renewOnce(again: boolean): Promise<boolean> {
    const { keys, nodeId, leaseMs, connected } = this.#o;
    if (!connected()) return false;
    const sentAt = Date.now();
    const t0 = performance.now();
    const previous = (await this.#renew([keys.nodes()], [nodeId, sentAt + leaseMs])) as string | null;
    this.#rttMs = performance.now() - t0;
    const now = Date.now();
    // Under a tenth of the lease left counts too: expired already to a node whose clock runs ahead.
    const lapsed = previous === null || Number(previous) - now < leaseMs / 10;
    if (this.#renewedAt !== 0 && (lapsed || now - this.#renewedAt >= this.#freshMs)) this.#heldSince = now;
    // The gap before a renewal answered late, not before its immediate repeat (below).
    if (again) this.#gapMs = this.#renewedAt === 0 ? 0 : now - this.#renewedAt;
    if (lapsed && this.#renewedAt !== 0) this.#lapses++;
    this.#renewedAt = now;
    // The expiry it wrote was reckoned when it was sent: answered late (a stall, a failover), that
    // expiry is old already, and is written again at once rather than a renewal period later.
    if (again && now - sentAt >= this.intervalMs) return (await this.#renewOnce(false)) || lapsed;
    return lapsed;
  }

  /**
   * Connected is not enough: a stalled link (no FIN, no answers) keeps ioredis 'ready' forever. Two
   * renewals missed means Redis is not answering.
   */
  isFresh(): boolean {
    return this.#renewedAt !== 0 && Date.now() - this.#renewedAt < this.#freshMs;
  }

  /**
   * Ms since this node's renewals have come on time and found its lease live; 0 while they do not
   * (none yet, or overdue now). Right after an outage this node saw too, every lease looks expired
   * for a reason that says nothing of its node: the Reaper believes them again once this has
   * reached a whole lease.
   */
  get heldMs(): number {
    return this.isFresh() ? Date.now() - this.#heldSince : 0;
  }

  get #freshMs(): number {
    return Math.max(1000, (2 * this.#o.leaseMs) / 3);
  }

  /** Round trip of the last renewal, ms. */
  get rttMs(): number {
    return this.#rttMs;
  }

  /**
   * Ms between the last two renewals' answers. With rttMs it tells a lapse's cause: a renewal
   * sent late (this node's event loop or its connection) from one answered late (Redis, or the
   * commands queued before it).
   */
  get gapMs(): number {
    return this.#gapMs;
  }

  /** Renewals, after the first, that found the lease lapsed. */
  get lapses(): number {
    return this.#lapses;
  }

  /** A renewal is waiting for its answer. */
  get inFlight(): boolean {
    return this.#renewing !== undefined;
  }

  /** Ms since the last renewal, -1 before the first. */
  get ageMs(): number {
    return this.#renewedAt === 0 ? -1 : Date.now() - this.#renewedAt;
  }
}
