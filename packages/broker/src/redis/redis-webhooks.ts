import { randomUUID } from 'node:crypto';
import { withoutUserinfo } from '../webhook-url.js';
import { defineScript, type ScriptCall } from './define-script.js';
import type { RedisKeys } from './keys.js';
import { LuaScript } from './lua.js';
import type { RedisClient } from './redis-client.js';
import type { DeadLetter, MoveResult, OutboxEntry, RedisWebhooksOptions, ReplayResult, ReportedState } from './webhook-types.js';

/** The outbox's cap when none is given (PUSH_WEBHOOK_OUTBOX_MAX's default). */
export const DEFAULT_OUTBOX_MAX = 100_000;

const GROUP = 'deliver';

const fieldsOf = (arr: string[]) => {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < arr.length; i += 2) out[arr[i]!] = arr[i + 1]!;
  return out;
};

/**
 * The Redis side of clustered webhooks: gateways append client events and cache misses, workers
 * decide occupancy and presence transitions (lua/webhook-transition.lua) and deliver from a stream with a
 * consumer group, so a worker that dies mid-send has its entries claimed by another.
 */
export class RedisWebhooks {
  readonly #transition: ScriptCall;
  readonly #outboxAppend: ScriptCall;
  readonly #restore: ScriptCall;
  readonly #outboxMax: number;
  #epoch = '';

  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
    options: RedisWebhooksOptions = {},
  ) {
    this.#outboxMax = options.outboxMax ?? DEFAULT_OUTBOX_MAX;
    this.#transition = defineScript(client, 'heraldWebhookTransition', LuaScript.WebhookTransition, 4);
    this.#outboxAppend = defineScript(client, 'heraldWebhookOutboxAppend', LuaScript.OutboxAppend, 1);
    this.#restore = defineScript(client, 'heraldWebhookRestoreReported', LuaScript.RestoreReported, 1);
  }

  /**
   * Reads (creating it if missing) the id of the Redis dataset, which event ids carry. Workers call
   * it at start and whenever Redis may have been replaced (a restart without persistence).
   */
  async syncEpoch(): Promise<string> {
    const key = this.keys.webhookEpoch();
    await this.client.set(key, randomUUID().slice(0, 8), 'NX');
    this.#epoch = (await this.client.get(key)) ?? '';
    return this.#epoch;
  }

  get outboxMax(): number {
    return this.#outboxMax;
  }

  /** Appends entries (field/value lists) through lua/outbox-append.lua; returns how many fitted. */
  async #append(entries: string[][], allOrNothing: boolean): Promise<number> {
    const args = [String(this.#outboxMax), allOrNothing ? '1' : '0', String(entries.length)];
    for (const fields of entries) args.push(String(fields.length), ...fields);
    return Number(await this.#outboxAppend([this.keys.webhookOutbox()], args));
  }

  /** Gateways: queues an event the gateway saw itself (client_event, cache_miss). False: the outbox is full, nothing queued. */
  async append(appId: string, event: object): Promise<boolean> {
    return (await this.#append([['app', appId, 'eid', randomUUID(), 'ev', JSON.stringify(event), 't', String(Date.now())]], true)) === 1;
  }

  /** Workers: decides the channel's pending transitions; returns how many were queued, and what is reported now. */
  async decide(appId: string, channel: string, presence: boolean): Promise<{ queued: number; reported: ReportedState }> {
    const k = this.keys;
    const r = (await this.#transition(
      [k.subs(appId, channel), k.members(appId, channel), k.webhookReported(appId, channel), k.webhookQueue(appId, channel)],
      [channel, presence ? '1' : '0'],
    )) as [number, number, number, ...string[]];
    const [queued, seq, occ, ...members] = r;
    return { queued: Number(queued), reported: { seq: Number(seq), occupied: Number(occ) === 1, members } };
  }

  /** Writes back a channel's reported state if Redis holds an older one (lower seq) or none; true if written. */
  async restoreReported(appId: string, channel: string, r: ReportedState): Promise<boolean> {
    const n = await this.#restore([this.keys.webhookReported(appId, channel)], [String(r.seq), r.occupied ? '1' : '0', ...r.members]);
    return Number(n) === 1;
  }

  /**
   * Moves a channel's decided transitions to the outbox, in order; one worker at a time per channel
   * (a lock that expires if its holder dies). When the outbox is full the rest stay queued, in order,
   * for a later call (`outbox_full`): never dropped. At-least-once: a crash between the append and
   * the LTRIM queues them again, with the same event ids.
   */
  async move(appId: string, channel: string, owner: string): Promise<MoveResult> {
    const lock = this.keys.webhookQueueLock(appId, channel);
    if ((await this.client.set(lock, owner, 'PX', 10_000, 'NX')) !== 'OK') return { outcome: 'locked' };
    try {
      const q = this.keys.webhookQueue(appId, channel);
      let moved = 0;
      for (;;) {
        const items = await this.client.lrange(q, 0, 99);
        if (items.length === 0) return { outcome: 'moved', moved };
        const now = String(Date.now());
        const entries = items.map((item) => {
          const sp = item.indexOf(' ');
          // Unique across Redis datasets: a Redis restarted empty starts the sequences again.
          return ['app', appId, 'eid', `${this.#epoch}:${appId}:${channel}:${item.slice(0, sp)}`, 'ev', item.slice(sp + 1), 't', now];
        });
        const added = await this.#append(entries, false);
        // Only this holder removes from the head; deciders only append at the tail.
        if (added > 0) await this.client.ltrim(q, added, -1);
        moved += added;
        if (added < items.length) return { outcome: 'outbox_full', moved };
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
      [string, [string, string[]][]][] | null;
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

  /** Stores a batch that never got a 2xx; its target URL is kept without userinfo (no credentials at rest). */
  async deadLetter(d: Omit<DeadLetter, 'id' | 'atMs'>): Promise<void> {
    const fields = [
      'app',
      d.appId,
      'target',
      withoutUserinfo(d.target),
      'error',
      d.error,
      'events',
      JSON.stringify(d.events),
      'eids',
      JSON.stringify(d.eventIds),
    ];
    await this.client.xadd(this.keys.webhookDead(), 'MAXLEN', '~', '10000', '*', ...fields, 't', String(Date.now()));
  }

  /**
   * The oldest `count` dead letters, of `appId` only when given (read a page at a time until
   * `count` of them are found: the stream holds every app's).
   */
  async deadLetters(count = 100, appId?: string): Promise<DeadLetter[]> {
    const page = appId === undefined ? count : Math.max(count, 500);
    const out: DeadLetter[] = [];
    let start = '-';
    while (out.length < count) {
      const r = (await this.client.xrange(this.keys.webhookDead(), start, '+', 'COUNT', page)) as [string, string[]][];
      for (const entry of r) {
        const d = parseDeadLetter(entry);
        if (appId === undefined || d.appId === appId) out.push(d);
        if (out.length === count) break;
      }
      if (r.length < page) break;
      start = `(${r[r.length - 1]![0]}`;
    }
    return out;
  }

  /** How many dead letters are kept, every app's. */
  deadLetterCount(): Promise<number> {
    return this.client.xlen(this.keys.webhookDead());
  }

  /**
   * Puts dead letters (`ids`, or all) back in the outbox, oldest first, each for its original target
   * only and whole (all its events or none). Stops at the first that does not fit in the outbox: it
   * and the rest stay dead letters and are counted `refused`. With `appId`, only that app's dead
   * letters are considered: ids of another app's are ignored.
   */
  async replay(ids?: string[], appId?: string): Promise<ReplayResult> {
    const all = await this.deadLetters(10_000, appId);
    const wanted = ids === undefined ? undefined : new Set(ids);
    const chosen = wanted === undefined ? all : all.filter((d) => wanted.has(d.id));
    let replayed = 0;
    for (const d of chosen) {
      const now = String(Date.now());
      const entries = d.events.map((ev, i) => ['app', d.appId, 'eid', d.eventIds[i] ?? randomUUID(), 'ev', JSON.stringify(ev), 'target', d.target, 't', now]);
      if (entries.length > 0 && (await this.#append(entries, true)) === 0) break;
      await this.client.xdel(this.keys.webhookDead(), d.id);
      replayed++;
    }
    return { replayed, refused: chosen.length - replayed };
  }

  /** Deletes dead letters (`ids`, or all); with `appId`, only ids of that app's (the others are ignored). */
  async dropDeadLetters(ids?: string[], appId?: string): Promise<number> {
    if (appId !== undefined) {
      const owned = await this.#ownedBy(appId, ids ?? []);
      return owned.length === 0 ? 0 : this.client.xdel(this.keys.webhookDead(), ...owned);
    }
    if (ids === undefined) {
      const n = await this.client.xlen(this.keys.webhookDead());
      await this.client.del(this.keys.webhookDead());
      return n;
    }
    return ids.length === 0 ? 0 : this.client.xdel(this.keys.webhookDead(), ...ids);
  }

  /** The ids among `ids` that are well-formed stream ids of dead letters of `appId`. */
  async #ownedBy(appId: string, ids: string[]): Promise<string[]> {
    const candidates = [...new Set(ids.filter((id) => STREAM_ID.test(id)))];
    if (candidates.length === 0) return [];
    const key = this.keys.webhookDead();
    const pipeline = this.client.pipeline();
    for (const id of candidates) pipeline.xrange(key, id, id);
    const answers = (await pipeline.exec()) ?? [];
    return candidates.filter((_, i) => {
      const [err, entries] = answers[i] ?? [null, []];
      const entry = (entries as [string, string[]][] | null)?.[0];
      return err === null && entry !== undefined && parseDeadLetter(entry).appId === appId;
    });
  }
}

/** What XADD makes: `<ms>-<seq>`. Anything else would be a Redis error, not an unknown id. */
const STREAM_ID = /^\d{1,20}-\d{1,20}$/;

function parseDeadLetter([id, arr]: [string, string[]]): DeadLetter {
  const f = fieldsOf(arr);
  return {
    id,
    appId: f.app ?? '',
    // Stripped on read too, so no stored form of a target is ever shown with credentials.
    target: withoutUserinfo(f.target ?? ''),
    error: f.error ?? '',
    events: JSON.parse(f.events ?? '[]') as Record<string, unknown>[],
    eventIds: JSON.parse(f.eids ?? '[]') as string[],
    atMs: Number(f.t ?? 0),
  };
}
