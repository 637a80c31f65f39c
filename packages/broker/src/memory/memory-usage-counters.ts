import type { UsageCounters } from '../usage-counters.js';

/** Admission counters of a single node: everything is local. */
export class MemoryUsageCounters implements UsageCounters {
  readonly #conns = new Map<string, number>();
  readonly #api = new Map<string, { second: number; n: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  setLocalConnections(appId: string, count: number): void {
    this.#conns.set(appId, count);
  }

  clusterConnections(appId: string): number {
    return this.#conns.get(appId) ?? 0;
  }

  async hitApi(appId: string, perSecond: number): Promise<boolean> {
    const second = Math.floor(this.now() / 1000);
    let w = this.#api.get(appId);
    if (w === undefined || w.second !== second) this.#api.set(appId, (w = { second, n: 0 }));
    return ++w.n <= perSecond;
  }
}
