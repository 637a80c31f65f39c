/**
 * The dashboard's debug console: what gateways and webhook workers record about one app while a
 * console of that app is open somewhere in the cluster. Nothing is recorded otherwise: producers
 * ask `watching(appId)` (one Set lookup) before building a record.
 *
 * Records never hold secrets, signatures, auth strings or `channel_data`'s auth value; event data
 * is cut to DEBUG_DATA_MAX characters.
 */

/** Longest `data` excerpt a record carries; the `size` field says how long the whole was (bytes). */
export const DEBUG_DATA_MAX = 1000;

/**
 * Records one node passes on per second per app, whatever the number of consoles; the rest are
 * counted and reported to the consoles as skipped, so a busy app's console costs bounded work.
 */
export const DEBUG_NODE_RATE = 500;

import type { WebhookDeliveryRecord } from './webhook-log.js';

interface DebugBase {
  /** ms since the epoch, on the node that recorded it. */
  at: number;
  /** The node (gateway or worker) that recorded it. */
  node: string;
}

export type DebugRecord = DebugBase &
  (
    | { kind: 'connection_opened'; socketId: string; origin?: string; transport: string }
    | { kind: 'connection_closed'; socketId: string; code: number; reason: string }
    | { kind: 'subscribed'; socketId: string; channel: string; userId?: string }
    | { kind: 'subscription_failed'; socketId: string; channel: string; code: number | null; reason: string }
    | { kind: 'unsubscribed'; socketId: string; channel: string }
    /** A REST trigger (or the dashboard's event creator): one record per request, all its channels. */
    | { kind: 'api_event'; channels: string[]; event: string; size: number; data: string; excludedSocketId?: string }
    | { kind: 'client_event'; socketId: string; channel: string; event: string; size: number; data: string; userId?: string }
    /** A webhook request's outcome: `status` is the HTTP status, absent when no answer came (`error` says why). */
    | ({ kind: 'webhook' } & Pick<WebhookDeliveryRecord, 'url' | 'events' | 'status' | 'error' | 'latencyMs' | 'attempt' | 'outcome'>)
    /** A pusher:error sent to a socket (close codes are in connection_closed). */
    | { kind: 'error_sent'; socketId: string; code: number | null; message: string }
  );

export type DebugKind = DebugRecord['kind'];

type OmitEach<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** What a producer emits: the sink stamps `at` (now) and `node` (its node) when they are absent. */
export type DebugRecordInput = OmitEach<DebugRecord, 'at' | 'node'> & Partial<DebugBase>;

/** Where producers put records. Cheap when no console is open. Never throws, never blocks. */
export interface DebugSink {
  /** True while a console of the app is open somewhere in the cluster. */
  watching(appId: string): boolean;
  /**
   * Records it for every open console of the app; does nothing when `watching(appId)` is false.
   * Over DEBUG_NODE_RATE a second the record is dropped and counted (consoles get `skipped`).
   */
  emit(appId: string, record: DebugRecordInput): void;
}

/** One open console: what it is told. Called synchronously; must not throw (it is caught if it does). */
export interface DebugConsole {
  record(record: DebugRecord): void;
  /** `count` records of the app were not recorded by some node (its per-second cap); at most once a second per node. */
  skipped(count: number): void;
}

/** What a dashboard uses to open a console. */
export interface DebugFeed {
  /**
   * Opens a console of the app: sets the cluster-wide flag (kept set while the console is open)
   * and tells `console` every record of the app from every node. The returned function closes it
   * (idempotent); the flag clears once no console of the app is open anywhere.
   */
  open(appId: string, console: DebugConsole): () => void;
}

/** Both sides, and its lifetime. */
export interface DebugBus extends DebugSink, DebugFeed {
  close(): Promise<void>;
}

/** A sink that records nothing: for processes without a debug bus. */
export const noDebug: DebugSink = { watching: () => false, emit: () => {} };
