/**
 * HTTP sessions (pusher-js's xhr_streaming and xhr_polling transports) across gateways: a session
 * lives on the gateway that opened it, while its requests may reach any gateway behind a balancer
 * without sticky sessions. The link says which node holds a session and carries messages addressed
 * to one node. Only clustered mode has one: an embedded node holds every session itself.
 */
export interface SessionLink {
  /** This node's id, as other nodes address it. */
  readonly nodeId: string;
  /** Records this node as the session's holder unless a node is already; resolves to the holder. */
  claim(sessionId: string): Promise<string>;
  /** The node holding the session, if any. */
  holder(sessionId: string): Promise<string | undefined>;
  /** Removes the session's entry if this node holds it. */
  release(sessionId: string): Promise<void>;
  /** Keeps these sessions' entries from expiring (an entry lives SESSION_ENTRY_TTL_MS after its last write). */
  refresh(sessionIds: readonly string[]): Promise<void>;
  /** To one node's BrokerHandler.onNodeMessage; at-most-once, in order from one sender. */
  sendToNode(nodeId: string, message: string): Promise<void>;
}

/** How long a session's holder entry outlives its last refresh: a SIGKILLed node's entries go by then. */
export const SESSION_ENTRY_TTL_MS = 3_600_000;
