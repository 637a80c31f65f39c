/** A frame from the server (docs/reference/protocol.md#frames). */
export interface IncomingFrame {
  event: string;
  channel?: string;
  data?: unknown;
  /** The sender's presence user id, on client events relayed on presence channels. */
  user_id?: string;
  /** `"<epoch>:<offset>"`, on events of channels with history and on their subscription_succeeded. */
  position?: string;
  /** On `subscription_succeeded` after a subscribe that carried a position: `{recovered, reason?}`. */
  recovery?: unknown;
}

/** A frame to the server; `data` is sent as an object (docs/reference/protocol.md#frames). */
export interface OutgoingFrame {
  event: string;
  channel?: string;
  data?: unknown;
}

/** Second argument of every channel listener. */
export interface EventMetadata {
  user_id?: string;
}

/**
 * Event data as the app should see it: a string that parses as JSON becomes the parsed value,
 * any other string is delivered as is (webman's push.js threw here), non-strings pass through.
 */
export function parseEventData(data: unknown): unknown {
  if (typeof data !== 'string') return data;
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return data;
  }
}

/** Parses an incoming text frame; undefined when it is not a JSON object with a string `event`. */
export function parseFrame(text: string): IncomingFrame | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const f = value as Record<string, unknown>;
  if (typeof f.event !== 'string') return undefined;
  const frame: IncomingFrame = { event: f.event, data: f.data };
  if (typeof f.channel === 'string') frame.channel = f.channel;
  if (typeof f.user_id === 'string' || typeof f.user_id === 'number') frame.user_id = String(f.user_id);
  if (typeof f.position === 'string') frame.position = f.position;
  if (f.recovery !== undefined) frame.recovery = f.recovery;
  return frame;
}

/** The `error` event payload: one shape for every failure the client reports instead of throwing. */
export interface PushErrorEvent {
  type:
    | 'PusherError' // a `pusher:error` frame from the server
    | 'WebSocketError' // the WebSocket failed
    | 'TransportError' // an HTTP fallback transport failed (a request got no answer)
    | 'Refused' // closed with a code that forbids reconnecting (4000-4099, 4300+)
    | 'AuthError' // the auth endpoint / authorizer failed
    | 'SigninError'
    | 'DecryptionError'
    | 'InvalidFrame'
    | 'QueueOverflow';
  message: string;
  /** Pusher error or close code (null for Pusher's soft errors). */
  code?: number | null;
  channel?: string;
  /** HTTP status of a failed auth request. */
  status?: number;
  /** The raw `data` of a `pusher:error` frame: `{code, message}` as pusher-js reports it. */
  data?: unknown;
  error?: unknown;
}
