// The compact (non-"fast") build: same API, half the bytes; speed is irrelevant for event-sized payloads.
import nacl from 'tweetnacl/nacl.js';
import { base64ToBytes, utf8Decode } from './encoding.js';
import { parseEventData } from './frames.js';

/** The per-channel key from an auth response's `shared_secret`; undefined unless it is 32 bytes of base64. */
export function parseSharedSecret(value: unknown): Uint8Array | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const key = base64ToBytes(value);
    return key.length === nacl.secretbox.keyLength ? key : undefined;
  } catch {
    return undefined;
  }
}

export type DecryptResult =
  | { ok: true; value: unknown }
  /** `malformed`: not an encrypted payload at all, a new key cannot help. `key`: authentication failed. */
  | { ok: false; reason: 'malformed' | 'key' };

/**
 * Opens `{"nonce","ciphertext"}` (both base64) with NaCl secretbox (docs/reference/auth.md#encrypted-channels). The
 * plaintext is the JSON the server SDK encrypted; it is parsed like any event data.
 */
export function decryptEventData(data: unknown, key: Uint8Array): DecryptResult {
  const payload = typeof data === 'string' ? parseEventData(data) : data;
  if (typeof payload !== 'object' || payload === null) return { ok: false, reason: 'malformed' };
  const { nonce, ciphertext } = payload as { nonce?: unknown; ciphertext?: unknown };
  if (typeof nonce !== 'string' || typeof ciphertext !== 'string') return { ok: false, reason: 'malformed' };
  let n: Uint8Array;
  let c: Uint8Array;
  try {
    n = base64ToBytes(nonce);
    c = base64ToBytes(ciphertext);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (n.length !== nacl.secretbox.nonceLength) return { ok: false, reason: 'malformed' };
  const plain = nacl.secretbox.open(c, n, key);
  if (!plain) return { ok: false, reason: 'key' };
  return { ok: true, value: parseEventData(utf8Decode(plain)) };
}
