import type { ClusterState, StateObserver } from './broker.js';
import { MemoryBroker } from './memory-broker.js';
import { MemoryUsageCounters } from './memory-usage.js';
import { MemoryCacheStore, MemoryChannelStore, MemoryPresenceStore, MemoryUserStore } from './memory-state.js';

/** The embedded single-node state: everything in this process, transitions reported to `observer`. */
export function createMemoryState(observer?: StateObserver): ClusterState {
  const broker = new MemoryBroker();
  const cache = new MemoryCacheStore();
  return {
    broker,
    channels: new MemoryChannelStore(observer),
    presence: new MemoryPresenceStore(observer),
    users: new MemoryUserStore(),
    cache,
    usage: new MemoryUsageCounters(),
    isReady: () => true,
    setLocalState: () => undefined,
    async close() {
      cache.close();
      await broker.close();
    },
  };
}
