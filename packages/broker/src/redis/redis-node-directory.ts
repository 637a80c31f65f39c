import { StateUnavailableError } from '../errors/state-unavailable.js';
import { byRoleThenId, type NodeInfo, type NodeReportStore } from '../node-directory.js';
import type { RedisKeys } from './keys.js';
import type { RedisClient } from './redis-client.js';

export interface RedisNodeDirectoryOptions {
  client: RedisClient;
  keys: RedisKeys;
  /** A report older than this is left out of `list()` (a node that stopped reporting). @default 6000 */
  staleMs?: number;
  /** A report older than this is deleted by the next `list()` (a node that died without removing it). @default 60000 */
  forgetMs?: number;
  /** False while the connection is down: `list()` then rejects at once rather than waiting. @default always true */
  connected?: () => boolean;
  /** `list()` rejects after this long without an answer (a stalled link). @default 2000 */
  timeoutMs?: number;
}

/**
 * The nodes' reports in one Redis hash (`RedisKeys.nodeInfo()`, a field per node id holding its
 * NodeInfo JSON). A single key, so Redis Cluster serves it from one shard. Nodes that die leave
 * their field behind; readers skip it once stale and delete it once old.
 */
export class RedisNodeDirectory implements NodeReportStore {
  readonly #o: RedisNodeDirectoryOptions;
  readonly #staleMs: number;
  readonly #forgetMs: number;

  constructor(options: RedisNodeDirectoryOptions) {
    this.#o = options;
    this.#staleMs = options.staleMs ?? 6000;
    this.#forgetMs = Math.max(this.#staleMs, options.forgetMs ?? 60_000);
  }

  async write(info: NodeInfo): Promise<void> {
    await this.#o.client.hset(this.#o.keys.nodeInfo(), info.id, JSON.stringify(info));
  }

  async remove(id: string): Promise<void> {
    await this.#o.client.hdel(this.#o.keys.nodeInfo(), id);
  }

  async list(): Promise<NodeInfo[]> {
    const { client, keys } = this.#o;
    if (this.#o.connected?.() === false) throw new StateUnavailableError();
    let raw: Record<string, string>;
    try {
      raw = await withTimeout(client.hgetall(keys.nodeInfo()), this.#o.timeoutMs ?? 2000);
    } catch (err) {
      throw new StateUnavailableError(undefined, { cause: err });
    }
    const now = Date.now();
    const live: NodeInfo[] = [];
    const forgotten: string[] = [];
    for (const [id, json] of Object.entries(raw)) {
      const info = parseReport(json);
      const age = info === undefined ? Infinity : now - info.reportedAt;
      if (age > this.#forgetMs) forgotten.push(id);
      else if (info !== undefined && age <= this.#staleMs) live.push(info);
    }
    // Best effort: the next reader deletes them if this fails.
    if (forgotten.length > 0) await client.hdel(keys.nodeInfo(), ...forgotten).catch(() => 0);
    return live.sort(byRoleThenId);
  }
}

/** A report as written by a NodeReporter; undefined for anything else (deleted as unreadable). */
function parseReport(json: string): NodeInfo | undefined {
  try {
    const v = JSON.parse(json) as Partial<NodeInfo> | null;
    return typeof v?.id === 'string' && typeof v.reportedAt === 'number' ? (v as NodeInfo) : undefined;
  } catch {
    return undefined;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from Redis within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
