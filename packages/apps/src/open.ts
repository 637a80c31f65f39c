import { documentFromApp, type AppRegistry, type Config } from '@herald/config';
import { AppCatalog, type CatalogLog } from './catalog.js';
import { createFileStore } from './file-store.js';
import { createLocalStore } from './local-store.js';
import { createRedisStore } from './redis-store.js';
import { createMysqlStore } from './sql/mysql-store.js';
import { createPostgresStore } from './sql/postgres-store.js';
import { createSoketiSqlStore } from './sql/soketi-store.js';
import type { AppStore } from './store.js';

export type AppsConfig = Pick<Config, 'apps' | 'appsStore' | 'appsSync' | 'redis'>;

/** The store PUSH_APPS_STORE names, connected. */
async function openStore(cfg: AppsConfig, log: CatalogLog): Promise<AppStore> {
  const onInvalid = (id: string, problem: string) => log.warn({ appId: id, problem }, 'a stored app is invalid: ignored');
  const s = cfg.appsStore;
  switch (s.kind) {
    case 'file':
      return createFileStore(cfg.apps.map(documentFromApp), s.readOnly);
    case 'local':
      return createLocalStore(s.file, { onInvalid });
    case 'redis':
      if (cfg.redis === undefined) throw new Error('the redis app store needs the Redis configuration');
      return createRedisStore({
        redis: cfg.redis,
        prefix: cfg.redis.prefix,
        onInvalid,
      });
    case 'sql': {
      const opts = {
        onInvalid: (id: string, issues: { field: string; message: string }[]) => onInvalid(id, issues.map((i) => `${i.field}: ${i.message}`).join('; ')),
        onError: (err: Error) => log.warn({ err: err.message }, 'app store connection error'),
        pollMs: s.pollMs,
      };
      if (s.soketiTable !== undefined) return createSoketiSqlStore(s.url, { ...opts, table: s.soketiTable });
      return /^postgres(ql)?:/.test(s.url) ? createPostgresStore(s.url, opts) : createMysqlStore(s.url, opts);
    }
  }
}

/**
 * The node's app catalog: the store opened, read whole (retried while it is unreachable, up to
 * `startTimeoutMs`), then followed. Every store but `file` serves the environment's app beside its
 * own (pinned: the admin API cannot change it).
 */
export async function openAppCatalog(cfg: AppsConfig, registry: AppRegistry, log: CatalogLog, startTimeoutMs = 30_000): Promise<AppCatalog> {
  const store = await openStore(cfg, log);
  const catalog = new AppCatalog({
    store,
    registry,
    pinned: cfg.appsStore.kind === 'file' ? [] : cfg.apps,
    resyncMs: cfg.appsSync.resyncMs,
    staleAfterMs: cfg.appsSync.staleAfterMs,
    log,
  });
  try {
    await catalog.start(startTimeoutMs);
  } catch (err) {
    await catalog.close();
    throw err;
  }
  if (registry.size === 0)
    log.warn(
      { store: store.kind },
      'no apps yet: create one with the admin API (npm run apps -- create), or set PUSH_APP_ID, PUSH_APP_KEY and PUSH_APP_SECRET',
    );
  else log.info({ store: store.kind, apps: registry.size }, 'apps loaded');
  return catalog;
}
