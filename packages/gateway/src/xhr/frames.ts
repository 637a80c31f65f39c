/**
 * The framing of pusher-js's HTTP transports (docs/http-fallbacks.md): the server's answer is
 * lines, each a type letter and a JSON payload. `o`: the session is open; `a[...]`: frames, each a
 * JSON string holding one Pusher frame; `h`: a heartbeat; `c[code,"reason"]`: the session closed.
 * pusher-js reads a line once its `\n` arrived.
 */

export const OPEN_LINE = 'o\n';
export const HEARTBEAT_LINE = 'h\n';

/** Frames already JSON-encoded as strings (JSON.stringify of each frame's text), in one `a` line. */
export function framesLine(encoded: readonly string[]): string {
  return `a[${encoded.join(',')}]\n`;
}

export function closeLine(code: number, reason: string): string {
  return `c${JSON.stringify([code, reason])}\n`;
}

/** One Pusher frame as an element of an `a` line. */
export function encodeFrame(frame: string | Uint8Array): string {
  return JSON.stringify(typeof frame === 'string' ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString('utf8'));
}

/**
 * The frames of an `xhr_send` body: a JSON array of strings (`[]` is a heartbeat). Undefined when
 * the body is not that.
 */
export function parseSendBody(body: string): string[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || !parsed.every((f) => typeof f === 'string')) return undefined;
  return parsed;
}
