import { randomUUID } from 'node:crypto';
import type { RedisKeys } from './keys.js';
import type { RedisClient } from './redis-state.js';

/**
 * KEYS = subs, members, wh (reported state), whq (decided transitions); ARGV = channel, presence 0|1.
 * Compares the channel's stored state with what was last reported and, in the same atomic step,
 * records the new reported state and queues the events: so among several workers checking at
 * once exactly one decides each transition. Order: occupied, member changes, vacated.
 */
const TRANSITION = `
local occ = redis.call('EXISTS', KEYS[1]) == 1
local prev = redis.call('HEXISTS', KEYS[3], 'occ') == 1
local events = {}
if occ and not prev then
  events[#events + 1] = cjson.encode({ name = 'channel_occupied', channel = ARGV[1] })
end
if ARGV[2] == '1' then
  local cur = {}
  for _, u in ipairs(redis.call('HKEYS', KEYS[2])) do cur[u] = true end
  local reported = {}
  local fields = redis.call('HKEYS', KEYS[3])
  for _, f in ipairs(fields) do
    if string.sub(f, 1, 2) == 'm:' then reported[string.sub(f, 3)] = true end
  end
  for u in pairs(cur) do
    if not reported[u] then
      redis.call('HSET', KEYS[3], 'm:' .. u, '1')
      events[#events + 1] = cjson.encode({ name = 'member_added', channel = ARGV[1], user_id = u })
    end
  end
  for u in pairs(reported) do
    if not cur[u] then
      redis.call('HDEL', KEYS[3], 'm:' .. u)
      events[#events + 1] = cjson.encode({ name = 'member_removed', channel = ARGV[1], user_id = u })
    end
  end
end
if prev and not occ then
  events[#events + 1] = cjson.encode({ name = 'channel_vacated', channel = ARGV[1] })
end
if occ and not prev then redis.call('HSET', KEYS[3], 'occ', '1') end
if prev and not occ then redis.call('HDEL', KEYS[3], 'occ') end
if #events > 0 then
  local seq = redis.call('HINCRBY', KEYS[3], 'seq', #events)
  for i, e in ipairs(events) do
    redis.call('RPUSH', KEYS[4], (seq - #events + i) .. ' ' .. e)
  end
end
-- An entirely reported-away channel leaves no hash behind (only its sequence).
if redis.call('HLEN', KEYS[3]) == 1 and redis.call('HEXISTS', KEYS[3], 'seq') == 1 and not occ then
  redis.call('EXPIRE', KEYS[3], 86400)
else
  redis.call('PERSIST', KEYS[3])
end
return #events`;

export interface OutboxEntry {
  /** Stream entry id. */
  id: string;
  appId: string;
  /** Stable id of the event, the same if a crash makes it queued twice. */
  eventId: string;
  event: Record<string, unknown>;
  /** When set, deliver to this target URL only (a replayed dead letter). */
  target?: string;
  createdMs: number;
}

export interface DeadLetter {
  id: string;
  appId: string;
  target: string;
  error: string;
  events: Record<string, unknown>[];
  eventIds: string[];
  atMs: number;
}

const GROUP = 'deliver';

const fieldsOf = (arr: string[]) => {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < arr.length; i += 2) out[arr[i]!] = arr[i + 1]!;
  return out;
};

/**
 * The Redis side of clustered webhooks: gateways append client events and cache misses, workers
 * decide occupancy and presence transitions (TRANSITION above) and deliver from a stream with a
 * consumer group, so a worker that dies mid-send has its entries claimed by another.
 */
export class RedisWebhooks {
  #transition: (keys: string[], args: string[]) => Promise<unknown>;

  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
  ) {
    client.defineCommand('heraldWebhookTransition', { lua: TRANSITION, numberOfKeys: 4 });
    const fn = (client as unknown as Record<string, (...a: string[]) => Promise<unknown>>).heraldWebhookTransition!.bind(client);
    this.#transition = (k, a) => fn(...k, ...a);
  }

  /** Gateways: queue an event the gateway saw itself (client_event, cache_miss). */
  async append(appId: string, event: Record<string, unknown>): Promise<void> {
    await this.client.xadd(this.keys.webhookOutbox(), '*', 'app', appId, 'eid', randomUUID(), 'ev', JSON.stringify(event), 't', String(Date.now()));
  }

  /** Workers: decides the channel's pending transitions; returns how many were queued. */
  async decide(appId: string, channel: string, presence: boolean): Promise<number> {
    const k = this.keys;
    const n = await this.#transition(
      [k.subs(appId, channel), k.members(appId, channel), k.webhookReported(appId, channel), k.webhookQueue(appId, channel)],
      [channel, presence ? '1' : '0'],
    );
    return Number(n);
  }

  /**
   * Moves a channel's decided transitions to the outbox; one worker at a time per channel (a lock
   * that expires if its holder dies). Returns the number moved, or -1 when another worker holds the
   * lock (the caller tries again shortly). At-least-once: a crash between the XADD and the LTRIM
   * queues them again, with the same event ids.
   */
  async move(appId: string, channel: string, owner: string): Promise<number> {
    const lock = this.keys.webhookQueueLock(appId, channel);
    if ((await this.client.set(lock, owner, 'PX', 10_000, 'NX')) !== 'OK') return -1;
    try {
      const q = this.keys.webhookQueue(appId, channel);
      let moved = 0;
      for (;;) {
        const items = await this.client.lrange(q, 0, 99);
        if (items.length === 0) return moved;
        const now = String(Date.now());
        for (const item of items) {
          const sp = item.indexOf(' ');
          await this.client.xadd(this.keys.webhookOutbox(), '*', 'app', appId, 'eid', `${appId}:${channel}:${item.slice(0, sp)}`, 'ev', item.slice(sp + 1), 't', now);
        }
        // Only this holder removes from the head; deciders only append at the tail.
        await this.client.ltrim(q, items.length, -1);
        moved += items.length;
      }
    } finally {
      await this.client.del(lock);
    }
  }

  /**
   * Takes or keeps the delivery lead for `ttlMs`: one worker delivers at a time, so batches for a
   * receiver go out in order; the others stand by and take over when the lead expires.
   */
  async lead(owner: string, ttlMs: number): Promise<boolean> {
    const key = this.keys.webhookLeader();
    if ((await this.client.set(key, owner, 'PX', ttlMs, 'NX')) === 'OK') return true;
    if ((await this.client.get(key)) !== owner) return false;
    await this.client.pexpire(key, ttlMs);
    return true;
  }

  /** Gives the lead up (clean stop), if held. */
  async resign(owner: string): Promise<void> {
    if ((await this.client.get(this.keys.webhookLeader())) === owner) await this.client.del(this.keys.webhookLeader());
  }

  async ensureGroup(): Promise<void> {
    try {
      await this.client.xgroup('CREATE', this.keys.webhookOutbox(), GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
  }

  #parse(raw: [string, string[]][]): OutboxEntry[] {
    const out: OutboxEntry[] = [];
    for (const [id, arr] of raw) {
      if (arr === null) continue;
      const f = fieldsOf(arr);
      try {
        out.push({
          id,
          appId: f.app ?? '',
          eventId: f.eid ?? id,
          event: JSON.parse(f.ev ?? '{}') as Record<string, unknown>,
          ...(f.target ? { target: f.target } : {}),
          createdMs: Number(f.t ?? Date.now()),
        });
      } catch {
        out.push({ id, appId: '', eventId: id, event: {}, createdMs: Date.now() });
      }
    }
    return out;
  }

  /** New entries for this consumer (blocks up to `blockMs`). */
  async read(consumer: string, count: number, blockMs: number): Promise<OutboxEntry[]> {
    const r = (await this.client.xreadgroup('GROUP', GROUP, consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', this.keys.webhookOutbox(), '>')) as
      | [string, [string, string[]][]][]
      | null;
    return r === null ? [] : this.#parse(r[0]![1]);
  }

  /** Entries another consumer took and left idle for `idleMs` (it died): now ours. */
  async claimStale(consumer: string, idleMs: number, count: number): Promise<OutboxEntry[]> {
    const r = (await this.client.xautoclaim(this.keys.webhookOutbox(), GROUP, consumer, idleMs, '0-0', 'COUNT', count)) as [string, [string, string[]][]];
    return this.#parse(r[1]);
  }

  /** Resets the idle time of entries still being delivered, so nobody claims them meanwhile. */
  async touch(consumer: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.client.xclaim(this.keys.webhookOutbox(), GROUP, consumer, 0, ...ids, 'JUSTID');
  }

  async ack(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.client.xack(this.keys.webhookOutbox(), GROUP, ...ids);
    await this.client.xdel(this.keys.webhookOutbox(), ...ids);
  }

  /** Entries waiting for delivery (read but not acknowledged, plus not yet read). */
  async backlog(): Promise<number> {
    const info = (await this.client.xinfo('GROUPS', this.keys.webhookOutbox()).catch(() => [])) as unknown[][];
    let n = 0;
    for (const g of info) {
      const f = fieldsOf(g.map(String));
      n += Number(f.pending ?? 0) + Number(f.lag ?? 0);
    }
    return n;
  }

  async deadLetter(d: Omit<DeadLetter, 'id' | 'atMs'>): Promise<void> {
    await this.client.xadd(
      this.keys.webhookDead(),
      'MAXLEN',
      '~',
      '10000',
      '*',
      'app',
      d.appId,
      'target',
      d.target,
      'error',
      d.error,
      'events',
      JSON.stringify(d.events),
      'eids',
      JSON.stringify(d.eventIds),
      't',
      String(Date.now()),
    );
  }

  async deadLetters(count = 100): Promise<DeadLetter[]> {
    const r = (await this.client.xrange(this.keys.webhookDead(), '-', '+', 'COUNT', count)) as [string, string[]][];
    return r.map(([id, arr]) => {
      const f = fieldsOf(arr);
      return {
        id,
        appId: f.app ?? '',
        target: f.target ?? '',
        error: f.error ?? '',
        events: JSON.parse(f.events ?? '[]') as Record<string, unknown>[],
        eventIds: JSON.parse(f.eids ?? '[]') as string[],
        atMs: Number(f.t ?? 0),
      };
    });
  }

  /** Puts dead letters back in the outbox, for their original target only; returns how many. */
  async replay(ids?: string[]): Promise<number> {
    const all = await this.deadLetters(10_000);
    const chosen = ids === undefined ? all : all.filter((d) => ids.includes(d.id));
    for (const d of chosen) {
      for (let i = 0; i < d.events.length; i++) {
        await this.client.xadd(
          this.keys.webhookOutbox(),
          '*',
          'app',
          d.appId,
          'eid',
          d.eventIds[i] ?? randomUUID(),
          'ev',
          JSON.stringify(d.events[i]),
          'target',
          d.target,
          't',
          String(Date.now()),
        );
      }
      await this.client.xdel(this.keys.webhookDead(), d.id);
    }
    return chosen.length;
  }

  async dropDeadLetters(ids?: string[]): Promise<number> {
    if (ids === undefined) {
      const n = await this.client.xlen(this.keys.webhookDead());
      await this.client.del(this.keys.webhookDead());
      return n;
    }
    return ids.length === 0 ? 0 : this.client.xdel(this.keys.webhookDead(), ...ids);
  }
}
