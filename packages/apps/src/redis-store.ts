import { readFileSync } from 'node:fs';
import { connectRedis, type RedisConnectOptions, type RedisConnections } from '@herald/broker';
import { validateAppDocument, type AppDocument } from '@herald/config';
import { ListedApps } from './listed-apps.js';
import {
  AppExistsError,
  AppNotFoundError,
  AppVersionConflictError,
  StoreUnavailableError,
  type AppStore,
  type AuditEntry,
  type AuditInput,
  type StoredApp,
} from './store.js';

/** packages/apps/lua/, beside src/ and dist/ alike (the package ships the folder). */
const WRITE_SCRIPT = readFileSync(new URL('../lua/app-write.lua', import.meta.url), 'utf8');

/** Documents fetched per HMGET when the whole set is read. */
const LIST_CHUNK = 1000;

/** Audit entries kept; older ones are trimmed by the write that goes past it. */
const AUDIT_MAX = 10_000;

export interface RedisStoreOptions {
  redis: RedisConnectOptions;
  /** The deployment's key prefix (PUSH_REDIS_PREFIX). */
  prefix: string;
  /** A stored document that no longer validates: skipped, and reported here. */
  onInvalid?: (id: string, problem: string) => void;
}

/** Every key of the store shares the hash tag `{apps}`: on Redis Cluster one shard holds them, and the write script stays single-slot. */
function keysOf(prefix: string) {
  const base = `${prefix}:{apps}`;
  return { docs: `${base}:docs`, meta: `${base}:meta`, keys: `${base}:keys`, audit: `${base}:audit`, seq: `${base}:seq`, topic: `${base}:changed` };
}

/**
 * Apps in the deployment's Redis: documents and versions in two hashes, a key index, a capped audit
 * list, all changed by one Lua script that also announces the change (PUBLISH, or SPUBLISH on a
 * Cluster) to every node's subscriber.
 */
export async function createRedisStore(o: RedisStoreOptions): Promise<AppStore> {
  const k = keysOf(o.prefix);
  // Connected as the cluster state connects, so a refusal (NOAUTH, ECONNREFUSED) is named in the
  // error; later errors are not logged here: the node's own Redis connections log the same outage.
  const quiet = () => undefined;
  const conn: RedisConnections = await connectRedis(o.redis, { debug: quiet, info: quiet, warn: quiet, error: quiet });
  const { client, pubsub } = conn;

  const unavailable = (err: unknown): never => {
    throw new StoreUnavailableError(`redis: ${(err as Error).message}`, { cause: err });
  };
  const read = <T>(p: Promise<T>) => p.catch(unavailable);

  const stored = (id: string, docJson: string | null | undefined, metaLine: string | null | undefined): StoredApp | undefined => {
    if (docJson == null || metaLine == null) return undefined;
    const [version, createdAt, updatedAt] = metaLine.split('|');
    let raw: unknown;
    try {
      raw = JSON.parse(docJson);
    } catch (err) {
      o.onInvalid?.(id, `not JSON: ${(err as Error).message}`);
      return undefined;
    }
    const check = validateAppDocument(raw);
    if (!check.ok) {
      o.onInvalid?.(id, check.issues.map((i) => `${i.field}: ${i.message}`).join('; '));
      return undefined;
    }
    return { doc: check.doc, version: Number(version), createdAt: createdAt ?? '', updatedAt: updatedAt ?? '' };
  };

  const write = async (op: 'create' | 'update' | 'delete', id: string, doc: AppDocument | undefined, expected: number | undefined, audit: AuditInput) => {
    const now = new Date().toISOString();
    const r = (await client
      .eval(
        WRITE_SCRIPT,
        5,
        k.docs,
        k.meta,
        k.keys,
        k.audit,
        k.seq,
        op,
        id,
        doc?.key ?? '',
        doc === undefined ? '' : JSON.stringify(doc),
        expected === undefined ? '' : String(expected),
        now,
        JSON.stringify({ action: audit.action, appId: audit.appId, actor: audit.actor, changes: audit.changes }),
        pubsub.publishCommand,
        k.topic,
        String(AUDIT_MAX),
      )
      .catch(unavailable)) as [string, ...(string | number)[]];
    switch (r[0]) {
      case 'exists':
        throw new AppExistsError(r[1] as 'id' | 'key', r[1] === 'id' ? id : (doc?.key ?? ''));
      case 'notfound':
        throw new AppNotFoundError(id);
      case 'conflict':
        throw new AppVersionConflictError(id, expected ?? 0, Number(r[1]));
      default:
        return { version: Number(r[1]), createdAt: String(r[2]), updatedAt: String(r[3]) };
    }
  };

  const listed = new ListedApps();

  const listeners: ((ids: string[] | undefined) => void)[] = [];
  pubsub.onMessage((topic, payload) => {
    if (topic === k.topic) for (const l of listeners) l([payload.toString()]);
  });
  // A subscriber that reconnects may have missed changes: everything is read again.
  pubsub.onReady(() => {
    for (const l of listeners) l(undefined);
  });

  return {
    kind: 'redis',
    readOnly: undefined,
    async list() {
      const meta = await read(client.hgetall(k.meta));
      const changed = listed.changed(new Map(Object.entries(meta)));
      for (let i = 0; i < changed.length; i += LIST_CHUNK) {
        const ids = changed.slice(i, i + LIST_CHUNK);
        const docs = await read(client.hmget(k.docs, ...ids));
        ids.forEach((id, j) => listed.set(id, meta[id]!, stored(id, docs[j], meta[id])));
      }
      return listed.all();
    },
    async get(id) {
      const [doc, meta] = await read(Promise.all([client.hget(k.docs, id), client.hget(k.meta, id)]));
      return stored(id, doc, meta);
    },
    async create(doc, audit) {
      const m = await write('create', doc.id, doc, undefined, audit);
      return { doc, ...m };
    },
    async update(id, doc, expectedVersion, audit) {
      const m = await write('update', id, doc, expectedVersion, audit);
      return { doc, ...m };
    },
    async delete(id, expectedVersion, audit) {
      await write('delete', id, undefined, expectedVersion, audit);
    },
    async audit(limit, beforeSeq) {
      const out: AuditEntry[] = [];
      // The list is newest first; paging back skips the entries at or above `beforeSeq`.
      const all = await read(client.lrange(k.audit, 0, -1));
      for (const line of all) {
        const e = JSON.parse(line) as AuditEntry;
        if (beforeSeq !== undefined && e.seq >= beforeSeq) continue;
        out.push(e);
        if (out.length >= limit) break;
      }
      return out;
    },
    async watch(onChange) {
      listeners.push(onChange);
      await read(pubsub.subscribe([k.topic]));
    },
    async close() {
      listeners.length = 0;
      conn.disconnect();
    },
  };
}
