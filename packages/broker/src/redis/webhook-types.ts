export interface RedisWebhooksOptions {
  /** Undelivered events the outbox holds at most; appends beyond are refused. @default 100000 */
  outboxMax?: number;
}

/** What a channel's webhooks last reported: the state the next check compares with. */
export interface ReportedState {
  /** Events decided for the channel so far (the next event's id is seq + 1). */
  seq: number;
  occupied: boolean;
  /** Presence members reported added and not yet removed. */
  members: string[];
}

/** What `move` did: `locked` (another worker moves this channel), or how many it moved before the queue emptied or the outbox filled. */
export type MoveResult = { outcome: 'locked' } | { outcome: 'moved' | 'outbox_full'; moved: number };

/** Dead letters put back in the outbox, and those kept because the outbox was full. */
export interface ReplayResult {
  replayed: number;
  refused: number;
}

export interface OutboxEntry {
  /** Stream entry id. */
  id: string;
  appId: string;
  /** Stable id of the event, the same if a crash makes it queued twice. */
  eventId: string;
  event: Record<string, unknown>;
  /** When set, deliver to this target URL only (a replayed dead letter). */
  target?: string;
  createdMs: number;
}

export interface DeadLetter {
  id: string;
  appId: string;
  target: string;
  error: string;
  events: Record<string, unknown>[];
  eventIds: string[];
  atMs: number;
}
