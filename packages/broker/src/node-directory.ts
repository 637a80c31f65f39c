/**
 * What every node (gateway or webhook worker) tells the cluster about itself, every few seconds, for
 * the dashboard's overview. Clustered: kept in Redis beside the leases, gone a few seconds after
 * the node stops reporting; embedded: the one node's own report.
 */

/** One point of a node's recent history (kept for the last 10 minutes, every 5 s). */
export interface NodeSample {
  /** ms since the epoch. */
  t: number;
  connections: number;
  /** Messages per second over the sample's interval: frames received from clients plus REST events (in), frames sent to sockets (out). */
  messagesInPerSecond: number;
  messagesOutPerSecond: number;
}

export interface NodeInfo {
  id: string;
  role: 'gateway' | 'worker';
  /** Herald's version. */
  version: string;
  /** ms since the epoch. */
  startedAt: number;
  /** When this report was written (ms since the epoch). */
  reportedAt: number;
  /** Open sockets (gateways); 0 for workers. */
  connections: number;
  /** As in NodeSample, over the last report interval; 0 for workers. */
  messagesInPerSecond: number;
  messagesOutPerSecond: number;
  /** Event-loop delay over the last interval, ms. */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  /** Round trip of the last Redis command timed (the lease renewal); absent in embedded mode. */
  redisRoundTripMs?: number;
  /** Whether the node answers /ready with 200. */
  ready: boolean;
  /** Webhook workers: batches waiting in the outbox, and dead letters kept. */
  webhooks?: { backlog: number; deadLetters: number; leader: boolean };
  series: NodeSample[];
}

/** Reads every live node's report. */
export interface NodeDirectory {
  /**
   * The reports of the nodes that reported lately, sorted by role then id. Rejects with
   * StateUnavailableError while the shared store cannot be read (clustered mode, Redis down).
   */
  list(): Promise<NodeInfo[]>;
}

/** Where a NodeReporter writes: the directory's other side. */
export interface NodeReportStore extends NodeDirectory {
  /** Replaces the node's report. */
  write(info: NodeInfo): Promise<void>;
  /** Removes the node's report (a clean stop: gone at once rather than after it goes stale). */
  remove(id: string): Promise<void>;
}

/** The order `list()` answers in: gateways first, then workers, each by id. */
export const byRoleThenId = (a: NodeInfo, b: NodeInfo): number =>
  a.role === b.role ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.role === 'gateway' ? -1 : 1;
