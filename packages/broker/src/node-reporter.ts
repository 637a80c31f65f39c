import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { NodeInfo, NodeReportStore, NodeSample } from './node-directory.js';
import type { BrokerLog } from './redis/redis-log.js';
import { HERALD_VERSION } from './version.js';

/** What the node counts, read at each report: open sockets and running totals of messages. */
export interface NodeFigures {
  connections: number;
  /** Totals since start (counters): the reporter turns them into rates. */
  messagesIn: number;
  messagesOut: number;
}

export interface NodeReporterOptions {
  id: string;
  role: NodeInfo['role'];
  store: NodeReportStore;
  figures: () => NodeFigures | Promise<NodeFigures>;
  /** Whether the node answers /ready with 200. */
  ready: () => boolean;
  /** Clustered: the round trip of the last Redis command timed. */
  redisRoundTripMs?: () => number;
  /** Nodes that deliver webhooks (workers, the embedded node). */
  webhooks?: () => Promise<NonNullable<NodeInfo['webhooks']>>;
  log: BrokerLog;
  /** @default HERALD_VERSION */
  version?: string;
  /** @default 2000 */
  intervalMs?: number;
  /** How often a point is added to `series`. @default 5000 */
  sampleMs?: number;
  /** How far back `series` goes. @default 600000 (10 minutes) */
  historyMs?: number;
}

/**
 * Event-loop delay is sampled every 20 ms: a finer resolution wakes an idle node more often for no
 * better figure, a coarser one sees few samples in a report interval. The histogram records each
 * wake-up's whole wait, the resolution included, which is taken off.
 */
const LOOP_RESOLUTION_MS = 20;

/** The longest `stop()` waits for the report's removal. */
const STOP_WAIT_MS = 1000;

interface Mark {
  at: number;
  messagesIn: number;
  messagesOut: number;
}

/**
 * Writes this node's NodeInfo to the directory every `intervalMs` and keeps the series of samples
 * it carries. A write that fails (Redis down) is skipped, logged once per outage; one still
 * running when the next is due makes that one skip, so a stalled link never piles writes up.
 */
export class NodeReporter {
  readonly #o: NodeReporterOptions;
  readonly #startedAt = Date.now();
  readonly #series: NodeSample[] = [];
  readonly #maxSamples: number;
  readonly #loop: IntervalHistogram;
  #reportMark: Mark | undefined;
  #sampleMark: Mark | undefined;
  #reportTimer: NodeJS.Timeout | undefined;
  #sampleTimer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  #failing = false;
  #stopped = false;

  constructor(options: NodeReporterOptions) {
    this.#o = options;
    this.#maxSamples = Math.max(1, Math.floor((options.historyMs ?? 600_000) / (options.sampleMs ?? 5000)));
    this.#loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  }

  /** Writes a first report at once, then every interval. */
  start(): void {
    if (this.#reportTimer !== undefined || this.#stopped) return;
    this.#loop.enable();
    void this.#tick();
    this.#reportTimer = setInterval(() => void this.#tick(), this.#o.intervalMs ?? 2000).unref();
    this.#sampleTimer = setInterval(() => void this.#sample(), this.#o.sampleMs ?? 5000).unref();
  }

  /** The series so far (oldest first). */
  get series(): readonly NodeSample[] {
    return this.#series;
  }

  /**
   * Stops reporting and removes this node's report. Best effort, bounded by `STOP_WAIT_MS` (a
   * stalled Redis must not hold a shutdown up): readers drop a report left behind once stale.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#reportTimer);
    clearInterval(this.#sampleTimer);
    this.#loop.disable();
    const removed = (async () => {
      await this.#writing;
      await this.#o.store.remove(this.#o.id);
    })().catch(() => undefined /* dropped by readers once stale */);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([removed, new Promise<void>((r) => (timer = setTimeout(r, STOP_WAIT_MS)))]);
    clearTimeout(timer);
  }

  /** Builds and writes one report; resolves once written or given up (never rejects). */
  report(): Promise<void> {
    return this.#tick();
  }

  #tick(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#writing ??= this.#write().finally(() => (this.#writing = undefined));
    return this.#writing;
  }

  async #write(): Promise<void> {
    try {
      const info = await this.#build();
      if (this.#stopped) return;
      await this.#o.store.write(info);
      if (this.#failing) this.#o.log.info({}, 'node report written again');
      this.#failing = false;
    } catch (err) {
      if (!this.#failing) this.#o.log.warn({ err: (err as Error).message }, 'node report not written; retrying quietly until it is');
      this.#failing = true;
    }
  }

  async #build(): Promise<NodeInfo> {
    const o = this.#o;
    const [figures, webhooks] = await Promise.all([o.figures(), o.webhooks?.()]);
    const now = Date.now();
    const rates = ratesSince(this.#reportMark, figures, now);
    this.#reportMark = { at: now, messagesIn: figures.messagesIn, messagesOut: figures.messagesOut };
    const info: NodeInfo = {
      id: o.id,
      role: o.role,
      version: o.version ?? HERALD_VERSION,
      startedAt: this.#startedAt,
      reportedAt: now,
      connections: figures.connections,
      ...rates,
      eventLoopDelayMs: this.#loopDelay(),
      ready: o.ready(),
      series: [...this.#series],
    };
    const rtt = o.redisRoundTripMs?.();
    if (rtt !== undefined) info.redisRoundTripMs = round(rtt);
    if (webhooks !== undefined) info.webhooks = webhooks;
    return info;
  }

  async #sample(): Promise<void> {
    try {
      const figures = await this.#o.figures();
      const now = Date.now();
      const rates = ratesSince(this.#sampleMark, figures, now);
      this.#sampleMark = { at: now, messagesIn: figures.messagesIn, messagesOut: figures.messagesOut };
      this.#series.push({ t: now, connections: figures.connections, ...rates });
      if (this.#series.length > this.#maxSamples) this.#series.splice(0, this.#series.length - this.#maxSamples);
    } catch (err) {
      this.#o.log.debug({ err: (err as Error).message }, 'node sample skipped');
    }
  }

  /** p50/p99/max since the last report, then starts over. */
  #loopDelay(): NodeInfo['eventLoopDelayMs'] {
    const h = this.#loop;
    const ms = (ns: number) => (h.count === 0 || !Number.isFinite(ns) ? 0 : round(Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS)));
    const out = { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
    h.reset();
    return out;
  }
}

/** Messages per second since `mark`; 0 for the first report (no interval yet) or a counter that went back. */
function ratesSince(mark: Mark | undefined, f: NodeFigures, now: number): Pick<NodeSample, 'messagesInPerSecond' | 'messagesOutPerSecond'> {
  const seconds = mark === undefined ? 0 : (now - mark.at) / 1000;
  const rate = (total: number, before: number | undefined) => (seconds <= 0 || before === undefined || total < before ? 0 : round((total - before) / seconds));
  return { messagesInPerSecond: rate(f.messagesIn, mark?.messagesIn), messagesOutPerSecond: rate(f.messagesOut, mark?.messagesOut) };
}

/** Two decimals: enough for a dashboard, and short JSON. */
const round = (n: number) => Math.round(n * 100) / 100;
