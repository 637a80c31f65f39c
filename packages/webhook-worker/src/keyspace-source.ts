import { Cluster, Redis } from 'ioredis';
import type { RedisClient, RedisKeys } from '@herald/broker';
import { StartupError } from '@herald/config';
import type { WebhookLogger } from '@herald/webhooks';

/** Flags the worker needs in `notify-keyspace-events`: keyspace events (K) for hash (h) and generic (g) commands. */
export const REQUIRED_KEYSPACE_FLAGS = 'Khg';

/** The flags are missing and cannot be set: the message says what to configure. */
export class KeyspaceConfigError extends StartupError<'KeyspaceEvents'> {
  override readonly name = 'KeyspaceConfigError';
  constructor(detail: string) {
    super('KeyspaceEvents', detail);
  }
}

const missingFlags = (current: string) => {
  const has = (f: string) => current.includes(f) || (f !== 'K' && f !== 'E' && current.includes('A'));
  return [...REQUIRED_KEYSPACE_FLAGS].filter((f) => !has(f));
};

/** Reconnect forever, quickly at first, as the gateways do. */
const retryStrategy = (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000);

/** How long one CONFIG or discovery call may take before the primary counts as unreachable. */
const CALL_TIMEOUT_MS = 2000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Makes sure `node` publishes the keyspace events the worker consumes: enables the missing flags
 * with CONFIG SET (keeping those already set). Returns true if it changed them. Where CONFIG is
 * forbidden (managed Redis, `rename-command CONFIG ""`) and the flags are missing, throws
 * KeyspaceConfigError saying what to configure.
 */
export async function ensureKeyspaceFlags(node: Redis, where: string, log: WebhookLogger): Promise<boolean> {
  let current: string;
  try {
    const r = (await withTimeout(node.config('GET', 'notify-keyspace-events'), CALL_TIMEOUT_MS, 'CONFIG GET')) as string[];
    current = r[1] ?? '';
  } catch (err) {
    if (!/unknown command|NOPERM|not allowed|no permissions/i.test((err as Error).message)) throw err;
    throw new KeyspaceConfigError(
      `cannot read notify-keyspace-events on ${where} (${(err as Error).message}); CONFIG is probably disabled. ` +
        `Set notify-keyspace-events to include "${REQUIRED_KEYSPACE_FLAGS}" in the Redis configuration (for example: notify-keyspace-events ${REQUIRED_KEYSPACE_FLAGS}), then start the worker again.`,
    );
  }
  const missing = missingFlags(current);
  if (missing.length === 0) return false;
  const wanted = current + missing.join('');
  try {
    await withTimeout(node.config('SET', 'notify-keyspace-events', wanted), CALL_TIMEOUT_MS, 'CONFIG SET');
  } catch (err) {
    if (!/unknown command|NOPERM|not allowed|no permissions/i.test((err as Error).message)) throw err;
    throw new KeyspaceConfigError(
      `notify-keyspace-events on ${where} is "${current}" and lacks "${missing.join('')}", and CONFIG SET failed (${(err as Error).message}). ` +
        `Set notify-keyspace-events to include "${REQUIRED_KEYSPACE_FLAGS}" in the Redis configuration, then start the worker again.`,
    );
  }
  log.info({ redis: where, from: current, to: wanted }, 'enabled keyspace notifications');
  return true;
}

/** One primary the worker listens to: a command connection (CONFIG, SCAN) and a subscriber. */
interface Source {
  id: string;
  cmd: Redis;
  sub: Redis;
  /** The connections are the worker's own (cluster primaries), closed with the source. */
  owned: boolean;
  subscribed: boolean;
  flagsOk: boolean;
  problem: string | undefined;
  /** The subscriber was not ready at some point since the source was last whole: events were lost. */
  gap: boolean;
}

export interface KeyspaceSourcesOptions {
  client: RedisClient;
  keys: RedisKeys;
  /** A key changed (the keyspace prefix removed). */
  onKey(key: string): void;
  /**
   * Events of `where` may have been lost (its subscriber reconnected, it is a new primary, or its
   * flags were missing): the worker compares the stored state with what it reported.
   */
  onGap(where: string): void;
  log: WebhookLogger;
  /** How often primaries, subscriptions and flags are checked. @default 2000 */
  checkMs?: number;
}

/**
 * Keyspace notifications of the occupancy and presence keys, from every primary, kept working
 * through restarts and failovers, actively (a periodic check) rather than only on the client
 * library's events: on Redis Cluster the primaries are discovered again every check (a promoted
 * replica is subscribed to, a failed primary dropped); on every primary the flags are checked
 * every time and set again where missing (CONFIG SET is not replicated: a promoted replica lacks
 * them); a subscriber that reconnected is followed by a gap report.
 */
export class KeyspaceSources {
  readonly #sources = new Map<string, Source>();
  readonly #problems = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<void> | undefined;
  #closed = false;
  #discoveryProblem: string | undefined;

  constructor(private readonly o: KeyspaceSourcesOptions) {}

  /** Discovers the primaries, enables the flags (or throws KeyspaceConfigError), subscribes. */
  async start(): Promise<void> {
    await this.#sync(true);
    this.#timer = setInterval(() => void this.check(), this.o.checkMs ?? 2000);
    this.#timer.unref();
  }

  /** One round of the periodic check; concurrent calls share it. Never throws. */
  check(): Promise<void> {
    this.#checking ??= this.#sync(false)
      .catch((err: Error) => this.o.log.warn({ err: err.message }, 'keyspace check failed'))
      .finally(() => (this.#checking = undefined));
    return this.#checking;
  }

  /** Every primary's events are received: subscribed, connected, flags set. */
  get ready(): boolean {
    if (this.#discoveryProblem !== undefined || this.#sources.size === 0) return false;
    for (const s of this.#sources.values()) if (!this.#whole(s)) return false;
    return true;
  }

  /** Why the worker is not ready, per primary (empty when it is). */
  problems(): string[] {
    const out = this.#discoveryProblem === undefined ? [] : [`discovery: ${this.#discoveryProblem}`];
    for (const s of this.#sources.values())
      if (!this.#whole(s)) out.push(`${s.id}: ${s.problem ?? (s.sub.status !== 'ready' ? `subscriber ${s.sub.status}` : 'not subscribed')}`);
    return out;
  }

  /** Primaries expected, and those whose events arrive. */
  counts(): { expected: number; ready: number } {
    return { expected: this.#sources.size, ready: [...this.#sources.values()].filter((s) => this.#whole(s)).length };
  }

  /** The command connection of every primary (fails fast when it is down), for scans. */
  primaries(): { id: string; node: Redis }[] {
    return [...this.#sources.values()].map((s) => ({ id: s.id, node: s.cmd }));
  }

  #whole(s: Source): boolean {
    return s.subscribed && s.flagsOk && s.sub.status === 'ready';
  }

  async #discover(): Promise<Map<string, Redis | undefined>> {
    const { client } = this.o;
    if (!(client instanceof Cluster)) return new Map([[describe(client), undefined]]);
    // The slot map as the cluster sees it now: a promoted replica is a primary, a failed one is not.
    const err = await withTimeout(new Promise<Error | null | undefined>((r) => client.refreshSlotsCache((e) => r(e))), CALL_TIMEOUT_MS * 2, 'CLUSTER SLOTS');
    if (err) throw err;
    return new Map(client.nodes('master').map((n) => [`${n.options.host}:${n.options.port}`, n]));
  }

  async #sync(first: boolean): Promise<void> {
    if (this.#closed) return;
    let wanted: Map<string, Redis | undefined>;
    try {
      wanted = await this.#discover();
      this.#discoveryProblem = undefined;
    } catch (err) {
      if (first) throw err;
      this.#setDiscoveryProblem((err as Error).message);
      return;
    }
    for (const [id, s] of this.#sources) {
      if (wanted.has(id)) continue;
      this.o.log.info({ redis: id }, 'no longer a primary: keyspace subscriber closed');
      this.#drop(s);
    }
    // Every new primary is listed before any is checked: `ready` reads the list meanwhile, and must
    // not find the known primaries whole while a new one is missing from it.
    for (const [id, node] of wanted) {
      if (this.#sources.has(id)) continue;
      const s = this.#open(id, node);
      this.#sources.set(id, s);
      if (!first) s.gap = true;
    }
    for (const s of [...this.#sources.values()]) await this.#checkSource(s, first);
  }

  #open(id: string, node: Redis | undefined): Source {
    const { client, log } = this.o;
    const single = !(client instanceof Cluster);
    // Cluster nodes as ioredis makes them do not reconnect (retryStrategy null): ours do.
    const cmd = single ? client : node!.duplicate({ enableOfflineQueue: false, retryStrategy, lazyConnect: true });
    if (!single) cmd.connect().catch(() => undefined /* it retries by itself; the checks report it meanwhile */);
    // Connected before it subscribes (see #checkSource): a PSUBSCRIBE racing ioredis' ready check
    // puts the connection in subscriber mode under the check, which then fails and reconnects.
    const sub = (single ? client : node!).duplicate({ enableOfflineQueue: true, retryStrategy, lazyConnect: true });
    sub.connect().catch(() => undefined /* it retries by itself; the checks report it meanwhile */);
    const s: Source = { id, cmd, sub, owned: !single, subscribed: false, flagsOk: false, problem: undefined, gap: false };
    sub.on('error', (err: Error) => log.debug({ redis: id, err: err.message }, 'keyspace subscriber error'));
    if (s.owned) cmd.on('error', (err: Error) => log.debug({ redis: id, err: err.message }, 'keyspace command connection error'));
    sub.on('pmessage', (_pattern: string, channel: string) => this.o.onKey(channel.slice(channel.indexOf('__:') + 3)));
    // Not ready: events published meanwhile are lost. Ready again (ioredis resubscribes by itself):
    // the flags are checked at once (a failover may have put us on a primary without them).
    sub.on('close', () => (s.gap = s.subscribed));
    sub.on('ready', () => {
      if (s.gap && !this.#closed) void this.check();
    });
    return s;
  }

  async #checkSource(s: Source, first: boolean): Promise<void> {
    const { log, keys } = this.o;
    const where = s.owned ? s.id : describe(s.cmd);
    if (first) {
      // At start the connections are just being made: wait for them (a failure stops the start).
      for (const c of s.owned ? [s.cmd, s.sub] : [s.sub]) {
        if (c.status !== 'ready') await withTimeout(new Promise((r) => c.once('ready', r)), CALL_TIMEOUT_MS * 5, `connection to ${where}`);
      }
    }
    try {
      const changed = await ensureKeyspaceFlags(s.cmd, where, log);
      if (changed && !first) {
        log.warn({ redis: where }, 'keyspace notifications were off on a primary (a promoted replica?): enabled again');
        s.gap = true;
      }
      s.flagsOk = true;
      s.problem = undefined;
    } catch (err) {
      s.flagsOk = false;
      if (err instanceof KeyspaceConfigError) {
        if (first) throw err;
        this.#setProblem(s, err.message, 'error');
      } else {
        this.#setProblem(s, `unreachable (${(err as Error).message})`, 'warn');
      }
      return;
    }
    if (s.sub.status !== 'ready') return;
    // Every check, not only once: PSUBSCRIBE is idempotent, and its answer proves the subscription
    // holds (a reconnect that lost it, or an answer lost with a connection, is repaired here).
    try {
      await withTimeout(s.sub.psubscribe(...keys.keyspacePatterns()), CALL_TIMEOUT_MS * 2, 'PSUBSCRIBE');
      s.subscribed = true;
    } catch (err) {
      s.subscribed = false;
      if (first) throw err;
      this.#setProblem(s, `cannot subscribe (${(err as Error).message})`, 'warn');
      return;
    }
    if (this.#problems.delete(s.id)) log.info({ redis: where }, 'keyspace events flowing again');
    if (s.gap) {
      s.gap = false;
      this.o.onGap(where);
    }
  }

  #setProblem(s: Source, problem: string, level: 'warn' | 'error'): void {
    s.problem = problem;
    // Logged when it starts or changes, not at every check.
    if (this.#problems.get(s.id) === problem) return;
    this.#problems.set(s.id, problem);
    this.o.log[level]({ redis: s.id, problem }, 'keyspace events not received from a primary');
  }

  #setDiscoveryProblem(problem: string): void {
    if (this.#discoveryProblem === undefined) this.o.log.warn({ problem }, 'cannot list the Redis Cluster primaries');
    this.#discoveryProblem = problem;
  }

  #drop(s: Source): void {
    this.#sources.delete(s.id);
    this.#problems.delete(s.id);
    s.sub.disconnect();
    if (s.owned) s.cmd.disconnect();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    for (const s of [...this.#sources.values()]) this.#drop(s);
  }
}

/**
 * A readable name of the server a connection talks to: host:port as connected (in Sentinel mode the
 * options name no host; the socket knows which primary it reached).
 */
function describe(node: Redis): string {
  const sentinel = node.options.sentinels !== undefined && node.options.sentinels !== null && node.options.sentinels.length > 0;
  const stream = (node as unknown as { stream?: { remoteAddress?: string; remotePort?: number } }).stream;
  const at = stream?.remoteAddress !== undefined ? `${stream.remoteAddress}:${stream.remotePort}` : undefined;
  if (sentinel) return `sentinel primary "${node.options.name ?? '?'}"${at !== undefined ? ` at ${at}` : ''}`;
  return at ?? `${node.options.host ?? '?'}:${node.options.port ?? '?'}`;
}

/** Every channel that has occupancy, presence or webhook bookkeeping in Redis, on every primary. */
export async function scanChannels(primaries: { node: Redis }[], keys: RedisKeys): Promise<Map<string, { appId: string; channel: string }>> {
  const out = new Map<string, { appId: string; channel: string }>();
  for (const { node } of primaries) {
    for (const suffix of ['subs', 'members', 'wh', 'whq']) {
      let cursor = '0';
      do {
        const [next, found] = await withTimeout(node.scan(cursor, 'MATCH', `${keys.prefix}:{*}:${suffix}`, 'COUNT', 1000), CALL_TIMEOUT_MS * 5, 'SCAN');
        cursor = next;
        for (const key of found) {
          const p = keys.parseChannelKey(key);
          if (p !== undefined) out.set(`${p.appId}\n${p.channel}`, { appId: p.appId, channel: p.channel });
        }
      } while (cursor !== '0');
    }
  }
  return out;
}
