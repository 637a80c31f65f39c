import type { ClusterStats } from '../../cluster-state.js';
import type { RedisBroker } from '../redis-broker.js';
import type { ReconnectWatch } from './connection.js';
import type { NodeLease } from './lease.js';

export interface StatsSources {
  lease: Pick<NodeLease, 'rttMs' | 'ageMs' | 'lapses'>;
  reconnects: Pick<ReconnectWatch, 'reconnects'>;
  broker: Pick<RedisBroker, 'topicCount' | 'publishedCount' | 'receivedCount'>;
}

/** The clustered state's figures for metrics, read when asked. */
export function readStats({ lease, reconnects, broker }: StatsSources): ClusterStats {
  return {
    redisRttMs: lease.rttMs,
    reconnects: reconnects.reconnects,
    leaseAgeMs: lease.ageMs,
    leaseLapses: lease.lapses,
    topics: broker.topicCount,
    published: broker.publishedCount,
    received: broker.receivedCount,
  };
}
