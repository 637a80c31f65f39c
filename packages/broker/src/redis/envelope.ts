import type { Publication } from '../broker.js';

const NEWLINE = 0x0a;

/** A publication as sent on a channel topic: `<exceptSocketId>\n<frame>` (built once, by the publisher). */
export function encodeEnvelope(pub: Pick<Publication, 'frame' | 'exceptSocketId'>): string | Buffer {
  const head = (pub.exceptSocketId ?? '') + '\n';
  return typeof pub.frame === 'string' ? head + pub.frame : Buffer.concat([Buffer.from(head), pub.frame]);
}

/**
 * `encodeEnvelope` as one Buffer, the form `publish` sends: the frame is encoded to bytes once, here,
 * and ioredis writes it as is (a string payload is copied again into every command it builds).
 */
export function encodeEnvelopeBytes(pub: Pick<Publication, 'frame' | 'exceptSocketId'>): Buffer {
  const head = pub.exceptSocketId ?? '';
  const frame = pub.frame;
  const frameBytes = typeof frame === 'string' ? Buffer.byteLength(frame) : frame.byteLength;
  // Socket ids are ASCII (isValidSocketId), so latin1 writes one byte per character.
  const out = Buffer.allocUnsafe(head.length + 1 + frameBytes);
  let at = out.write(head, 0, 'latin1');
  out[at++] = NEWLINE;
  if (typeof frame === 'string') out.write(frame, at, 'utf8');
  else out.set(frame, at);
  return out;
}

/** The publication in an envelope received on a channel topic; undefined if it is not one. */
export function decodeEnvelope(appId: string, channel: string, message: Buffer): Publication | undefined {
  const nl = message.indexOf(NEWLINE);
  if (nl === -1) return undefined;
  return {
    appId,
    channel,
    frame: message.subarray(nl + 1),
    ...(nl > 0 ? { exceptSocketId: message.toString('latin1', 0, nl) } : {}),
  };
}
