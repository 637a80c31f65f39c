import { ConfigError } from '@herald/config';
import { loadConfig } from '@herald/config';
import { startGateway } from './gateway.js';
import { createLogger } from '@herald/logger';
import { UwsFallbackError } from './uws.js';

/**
 * What a stop may take beyond PUSH_DRAIN_MS (webhook flush, releasing the node's Redis state).
 * Orchestrators wait 30 s (compose, drain 10 s) or 40 s (Kubernetes, drain 20 s) before SIGKILL.
 */
const SHUTDOWN_MARGIN_MS = 10_000;

/** Entry point of `npm start` (embedded) and `npm run gateway` (one node of a cluster). */
async function main(): Promise<void> {
  const role = process.argv.includes('--role=gateway') ? 'gateway' : 'embedded';
  // Checked before loadConfig: embedded mode would generate and save credentials on the way.
  if (role === 'gateway' && !process.env.REDIS_URL && !process.env.REDIS_SENTINELS && !process.env.REDIS_CLUSTER_NODES) {
    process.stderr.write(
      'herald: `npm run gateway` runs one node of a cluster and needs REDIS_URL (or REDIS_SENTINELS, REDIS_CLUSTER_NODES); use `npm start` for a single embedded node\n',
    );
    process.exit(1);
  }
  let cfg;
  try {
    cfg = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`herald: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const log = createLogger('gateway', { level: cfg.logLevel, nodeId: cfg.nodeId });
  let gw;
  try {
    gw = await startGateway(cfg, log);
  } catch (err) {
    if (err instanceof UwsFallbackError) {
      log.fatal({ code: err.code }, err.message);
      process.exit(1);
    }
    throw err;
  }
  printBanner(cfg, gw.wsPort, gw.apiPort);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    // The drain, then up to 10 s for webhooks and Redis: gone within that even if Redis is not.
    const limitMs = cfg.drainMs + SHUTDOWN_MARGIN_MS;
    setTimeout(() => {
      log.warn({ afterMs: limitMs }, 'shutdown did not finish in time (Redis unreachable?): exiting');
      process.exit(0);
    }, limitMs).unref();
    gw.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** The credentials and URLs a new user needs, on stdout (not in the JSON logs). */
function printBanner(cfg: ReturnType<typeof loadConfig>, wsPort: number, apiPort: number): void {
  const host = cfg.host === '0.0.0.0' ? '127.0.0.1' : cfg.host;
  const apiHost = cfg.apiHost === '0.0.0.0' ? '127.0.0.1' : cfg.apiHost;
  const clustered = cfg.redis !== undefined;
  const lines = [
    '',
    clustered ? `Herald gateway node ${cfg.nodeId} (clustered, Redis prefix ${cfg.redis?.prefix})` : 'Herald push server (embedded single node)',
  ];
  for (const app of cfg.apps) {
    lines.push(`  app id:     ${app.id}`, `  app key:    ${app.key}`);
    // Only a secret embedded mode has just generated is printed: the new user needs it once; one
    // that was configured, or loaded again from the credentials file, stays out of the output.
    if (cfg.credentials?.created === true) lines.push(`  app secret: ${app.secret}`);
  }
  if (cfg.credentials) {
    lines.push(
      cfg.credentials.created
        ? `  (credentials generated and saved in ${cfg.credentials.file})`
        : `  (credentials, secret included, loaded from ${cfg.credentials.file})`,
    );
  }
  const key = cfg.apps[0]?.key ?? '<app_key>';
  lines.push(
    `  WebSocket:  ws://${host}:${wsPort}/app/${key}`,
    `  HTTP API:   http://${apiHost}:${apiPort}/apps/${cfg.apps[0]?.id ?? '<app_id>'}/events`,
    `  readiness:  http://${apiHost}:${apiPort}/ready`,
    '',
  );
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`herald: fatal: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
