import { DEBUG_DATA_MAX } from '@herald/broker';

/** What a debug record shows of event data: its first DEBUG_DATA_MAX characters. */
export function dataExcerpt(data: string): string {
  return data.length > DEBUG_DATA_MAX ? data.slice(0, DEBUG_DATA_MAX) : data;
}

/**
 * What a debug record shows of an error sent to a client: its message, less what a failed
 * signature check appends (the string that was signed, `channel_data` or `user_data` included,
 * and the signature the client sent), which is for the client's developer, not for the dashboard.
 */
export function shownReason(message: string): string {
  const at = message.indexOf(': Expected HMAC');
  return at === -1 ? message : message.slice(0, at);
}
