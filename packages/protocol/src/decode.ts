import { invalidJson, pusherError } from './errors.js';
import { CLIENT_EVENT_PREFIX, PUSHER_INTERNAL_PREFIX, PUSHER_PREFIX, PusherEvent } from './events.js';

/** A client frame after decoding; `data` is whatever the client sent (object, string, ...). */
export type ClientFrame =
  | { kind: 'ping' }
  | { kind: 'pong' }
  | { kind: 'subscribe'; channel: unknown; auth: unknown; channelData: unknown; position: unknown }
  | { kind: 'unsubscribe'; channel: unknown }
  | { kind: 'signin'; auth: unknown; userData: unknown }
  | { kind: 'client-event'; event: string; channel: unknown; data: unknown }
  /** An unknown `pusher:*` event: ignored, as Pusher and soketi do. */
  | { kind: 'ignored'; event: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Some clients double-encode `data` of protocol frames; accept a JSON string holding an object. */
function dataObject(data: unknown): Record<string, unknown> {
  if (isObject(data)) return data;
  if (typeof data === 'string') {
    try {
      const parsed: unknown = JSON.parse(data);
      if (isObject(parsed)) return parsed;
    } catch {
      /* not JSON: treated as an empty payload below */
    }
  }
  return {};
}

/**
 * Parses one text frame from a client. Throws a PusherError (code null, connection kept) for
 * invalid JSON, a frame that is not an object with a string `event`, `pusher_internal:` events and
 * events that are neither `pusher:` nor `client-`.
 */
export function parseClientFrame(text: string): ClientFrame {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    throw invalidJson();
  }
  if (!isObject(msg) || typeof msg.event !== 'string') throw invalidJson();
  const event = msg.event;
  switch (event) {
    case PusherEvent.Ping:
      return { kind: 'ping' };
    case PusherEvent.Pong:
      return { kind: 'pong' };
    case PusherEvent.Subscribe: {
      const d = dataObject(msg.data);
      return { kind: 'subscribe', channel: d.channel ?? msg.channel, auth: d.auth, channelData: d.channel_data, position: d.position };
    }
    case PusherEvent.Unsubscribe: {
      const d = dataObject(msg.data);
      return { kind: 'unsubscribe', channel: d.channel ?? msg.channel };
    }
    case PusherEvent.Signin: {
      const d = dataObject(msg.data);
      return { kind: 'signin', auth: d.auth, userData: d.user_data };
    }
  }
  if (event.startsWith(CLIENT_EVENT_PREFIX)) {
    return { kind: 'client-event', event, channel: msg.channel, data: msg.data };
  }
  if (event.startsWith(PUSHER_INTERNAL_PREFIX)) {
    throw pusherError('InternalEventForbidden', PUSHER_INTERNAL_PREFIX);
  }
  if (event.startsWith(PUSHER_PREFIX)) return { kind: 'ignored', event };
  throw pusherError('NotAClientEvent', event);
}
