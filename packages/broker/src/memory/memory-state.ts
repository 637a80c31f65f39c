import type { ClusterState } from '../cluster-state.js';
import { composePresenceChannels } from '../presence-channel-store.js';
import type { StateObserver } from '../state-observer.js';
import { MemoryBroker } from './memory-broker.js';
import { MemoryCacheStore } from './memory-cache-store.js';
import { MemoryChannelStore } from './memory-channel-store.js';
import { MemoryHistory } from './memory-history.js';
import { MemoryPresenceStore } from './memory-presence-store.js';
import { MemoryUsageCounters } from './memory-usage-counters.js';
import { MemoryUserStore } from './memory-user-store.js';

/** The embedded single-node state: everything in this process, transitions reported to `observer`. */
export function createMemoryState(observer?: StateObserver): ClusterState {
  const history = new MemoryHistory();
  const broker = new MemoryBroker(history);
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
    history,
    usage: new MemoryUsageCounters(),
    isReady: () => true,
    setLocalState: () => undefined,
    onRecovered: () => undefined,
    async close() {
      cache.close();
      history.close();
      await broker.close();
    },
  };
}
