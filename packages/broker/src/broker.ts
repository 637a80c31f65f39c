/**
 * The broker moves publications between nodes; it never sees a socket. The cluster-wide state it
 * travels with (channel-store.ts, presence-store.ts, user-store.ts, cache-store.ts...) is bundled in
 * ClusterState (cluster-state.ts). Every interface has a Memory* (memory/) and a Redis* (redis/)
 * implementation, and both pass the same contract suite (test/broker-contract.ts).
 */

import type { HistoryPolicy } from './history-store.js';

/** A frame to deliver to every local subscriber of `channel`, serialised once by the publisher. */
export interface Publication {
  appId: string;
  channel: string;
  /** The complete server→client frame; receivers hand these bytes to the sockets unparsed. */
  frame: string | Uint8Array;
  /** This socket does not receive the frame (REST `socket_id`, client-event sender, presence joiner). */
  exceptSocketId?: string;
  /**
   * The channel keeps history: the broker numbers and keeps the event and adds its position to the
   * frame (a JSON object), in the step that publishes it (history-store.ts). Unset: as it is.
   */
  history?: HistoryPolicy;
}

/** Node-to-node commands that are not channel traffic. Add variants; never `any`. */
export type ControlCommand =
  | { kind: 'terminate-user'; appId: string; userId: string }
  /**
   * A user went online (first signed-in connection) or offline (last one closed), cluster-wide.
   * `version` orders one user's transitions as they were decided (UserStore): the node that
   * decided a sign-out and the node that decided the next sign-in publish independently, so
   * receivers may get the two the other way round and must drop one older than the last seen.
   */
  | { kind: 'user-presence'; appId: string; userId: string; online: boolean; version: number };

/** Receives traffic from every node, this one included. Must not throw. */
export interface BrokerHandler {
  onPublication(pub: Publication): void;
  onControl(cmd: ControlCommand): void;
  /** A message addressed to this node alone (SessionLink.sendToNode). */
  onNodeMessage?(message: string): void;
}

export interface PublishOptions {
  /**
   * Wait up to this long for the cluster while it is unreachable or failing over, then, if still
   * not published, throw PublishUnavailableError (this node's subscribers have it). Unset: never
   * wait nor throw; this node's subscribers get it, the others may not.
   */
  waitMs?: number;
}

/**
 * At-most-once, ordered per channel only: a publication reaches every node with interest in its
 * channel (this one included) once or, while the cluster link fails, not at all (this node's own
 * subscribers still get it). subscribe/unsubscribe are idempotent. The gateway's hub calls
 * subscribe/unsubscribe; its handlers and REST API publish.
 */
export interface Broker {
  /** Once, after the local hub exists; the handler receives traffic from then on. */
  start(handler: BrokerHandler): Promise<void>;
  /** Called for the first local subscriber of a channel. */
  subscribe(appId: string, channel: string): Promise<void>;
  /** Called after the last local subscriber leaves. */
  unsubscribe(appId: string, channel: string): Promise<void>;
  publish(pub: Publication, opts?: PublishOptions): Promise<void>;
  /**
   * Resolves once every publication to the channel made before the call (by any node) has reached
   * this node's handler: what was read of the channel's state before the call can then be ordered
   * against the publications. Requires this node's interest in the channel. Bounded: resolves after
   * a few seconds in any case (a node whose link to the cluster is failing gets no such promise).
   */
  sync(appId: string, channel: string): Promise<void>;
  /** To every node, this one included; at-most-once like `publish`. */
  publishControl(cmd: ControlCommand, opts?: PublishOptions): Promise<void>;
  /** The handler receives nothing after this. */
  close(): Promise<void>;
}
