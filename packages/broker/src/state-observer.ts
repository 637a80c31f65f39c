/**
 * Cluster-wide state changes, for the webhook pipeline in embedded mode. The memory stores call it
 * synchronously, once per transition, in the order they decide them. Must not throw.
 */
export interface StateObserver {
  channelOccupancy(appId: string, channel: string, occupied: boolean): void;
  memberPresence(appId: string, channel: string, userId: string, present: boolean): void;
}
