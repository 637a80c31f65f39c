import { composePresenceChannels, type ClusterState, type StateObserver } from './broker.js';
import { MemoryBroker } from './memory-broker.js';
import { MemoryUsageCounters } from './memory-usage.js';
import { MemoryCacheStore, MemoryChannelStore, MemoryPresenceStore, MemoryUserStore } from './memory-state.js';

/** The embedded single-node state: everything in this process, transitions reported to `observer`. */
export function createMemoryState(observer?: StateObserver): ClusterState {
  const broker = new MemoryBroker();
  const cache = new MemoryCacheStore();
  const channels = new MemoryChannelStore(observer);
  // MemoryBroker delivers synchronously: each member event goes out in the step that decided it.
  const presence = new MemoryPresenceStore(observer, (pub) => void broker.publish(pub));
  return {
    broker,
    channels,
    presence,
    presenceChannels: composePresenceChannels(channels, presence),
    users: new MemoryUserStore(),
    cache,
    usage: new MemoryUsageCounters(),
    isReady: () => true,
    setLocalState: () => undefined,
    onRecovered: () => undefined,
    async close() {
      cache.close();
      await broker.close();
    },
  };
}
