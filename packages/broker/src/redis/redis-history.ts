import { EPOCH_GRACE_SECONDS, epochSource, type HistoryPolicy, type HistoryReadOptions, type HistorySlice, type HistoryStore } from '../history-store.js';
import type { Publication } from '../broker.js';
import { defineScript, type ScriptCall } from './define-script.js';
import type { RedisKeys } from './keys.js';
import { LuaScript } from './lua.js';
import type { RedisClient } from './redis-client.js';

/**
 * History in Redis, on the channel's hash slot (its meta, log and topic share the hash tag): one
 * script numbers, keeps and publishes an event (lua/history-publish.lua), another reads
 * (lua/history-read.lua). Bounded per channel: `size` entries, expiring `ttlSeconds` after the
 * last publication, and the meta EPOCH_GRACE_SECONDS later.
 */
export class RedisHistory implements HistoryStore {
  readonly #publish: ScriptCall;
  readonly #read: ScriptCall;
  readonly #epoch = epochSource();

  constructor(
    client: RedisClient,
    private readonly keys: RedisKeys,
    private readonly publishCommand: 'PUBLISH' | 'SPUBLISH',
  ) {
    this.#publish = defineScript(client, 'heraldHistoryPublish', LuaScript.HistoryPublish, 3);
    this.#read = defineScript(client, 'heraldHistoryRead', LuaScript.HistoryRead, 2);
  }

  /** Numbers, keeps and publishes the event in one script call; resolves to its offset. */
  publish(pub: Publication, policy: HistoryPolicy): Promise<unknown> {
    const { appId, channel } = pub;
    const k = this.keys;
    return this.#publish(
      [k.historyMeta(appId, channel), k.historyLog(appId, channel), k.topic(appId, channel)],
      [
        policy.ttlSeconds,
        policy.ttlSeconds + EPOCH_GRACE_SECONDS,
        this.#epoch(),
        policy.size,
        this.publishCommand,
        pub.exceptSocketId ?? '',
        frameArg(pub.frame),
      ],
    );
  }

  async read(appId: string, channel: string, policy: HistoryPolicy, opts: HistoryReadOptions): Promise<HistorySlice> {
    const k = this.keys;
    const r = (await this.#read(
      [k.historyMeta(appId, channel), k.historyLog(appId, channel)],
      [policy.ttlSeconds, policy.ttlSeconds + EPOCH_GRACE_SECONDS, this.#epoch(), opts.after ?? -1, opts.limit, opts.newest === true ? 1 : 0],
    )) as [string, number, number, number, ...string[]];
    const [epoch, offset, oldest, first] = r;
    const entries = r.slice(4).map((raw, i) => {
      const nl = (raw as string).indexOf('\n');
      return { offset: first + i, publishedAt: Number((raw as string).slice(0, nl)), frame: (raw as string).slice(nl + 1) };
    });
    return { epoch, offset, oldest, entries };
  }
}

/** ioredis sends a Uint8Array that is not a Buffer as a string of its numbers: a Buffer view instead. */
const frameArg = (frame: string | Uint8Array) =>
  typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
