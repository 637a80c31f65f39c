import type { AppAdmin } from '@herald/apps';
import type { ClusterState, DebugFeed, DebugSink, NodeDirectory, WebhookLog } from '@herald/broker';
import type { App, AppRegistry } from '@herald/config';
import type { Metrics } from '../metrics.js';

/** The admin API's part of the REST context: present only when PUSH_ADMIN_TOKEN is set. */
interface AdminContext {
  token: string;
  admin: AppAdmin;
}

/** The dashboard's part of the REST context: present only with the admin API (PUSH_ADMIN_TOKEN). */
interface DashboardContext {
  mode: 'embedded' | 'clustered';
  /** This gateway's node id. */
  nodeId: string;
  /** How long a signed-in session lasts (PUSH_DASHBOARD_SESSION_SECONDS). */
  sessionSeconds: number;
  nodes: NodeDirectory;
  webhookLog: WebhookLog;
  debug: DebugFeed;
  /** The built pages' directory; undefined while they are not built. */
  files: () => string | undefined;
}

/** What the REST routes use (passed as plugin options, no globals). */
export interface ApiContext {
  apps: AppRegistry;
  state: ClusterState;
  metrics: Metrics;
  /** The debug console's records (api_event). */
  debug: DebugSink;
  /** True once the gateway listens on both ports (and, clustered, reaches Redis). */
  ready: () => boolean;
  /** How long a trigger waits for an unreachable or failing-over cluster before answering 503. */
  publishWaitMs?: number;
  /** The admin API; undefined (PUSH_ADMIN_TOKEN unset): its routes do not exist. */
  admin?: AdminContext | undefined;
  /** The dashboard; undefined without the admin API. */
  dashboard?: DashboardContext | undefined;
  /** Bytes of the browser client bundle, when built. */
  clientBundle?: () => Buffer | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The app the request is signed for; set by the signature check. */
    heraldApp: App;
    /** The query as the signature check read it (keys lower-cased, repeats joined, `+` literal). */
    heraldParams: ReadonlyMap<string, string>;
  }
}
