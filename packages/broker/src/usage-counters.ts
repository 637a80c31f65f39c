/**
 * Cluster-wide counts for admission control. Counts are synchronised about once a second, so the
 * limits are approximate under bursts (by design: no Redis round trip on the connect path).
 */
export interface UsageCounters {
  /** This node's open connections of the app changed. */
  setLocalConnections(appId: string, count: number): void;
  /** Connections of the app on the whole cluster, as of the last sync (this node's at its sync). */
  clusterConnections(appId: string): number;
  /** Counts one API request; false when the app is over `perSecond` in the current second, cluster-wide. */
  hitApi(appId: string, perSecond: number): Promise<boolean>;
}
