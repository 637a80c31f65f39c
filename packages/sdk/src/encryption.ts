import { createHash, randomBytes } from 'node:crypto';
import { secretbox } from './secretbox.js';

/** Channels whose events are end-to-end encrypted (docs/reference/auth.md#encrypted-channels); the server only routes them. */
export const isEncryptedChannel = (channel: string) => channel.startsWith('private-encrypted-');

/** Per-channel key: SHA-256(utf8(channel name) ‖ master key), what pusher-http-node and -php derive. */
export const channelSharedSecret = (channel: string, masterKey: Buffer): Buffer =>
  createHash('sha256')
    .update(Buffer.concat([Buffer.from(channel, 'utf8'), masterKey]))
    .digest();

/**
 * The `data` string for an encrypted channel: `{"nonce":"<b64>","ciphertext":"<b64>"}` where the
 * plaintext is `JSON.stringify(data)` (strings too, as pusher-js JSON-parses what it decrypts).
 * A fresh random nonce per call; `nonce` is only for tests.
 */
export function encryptEventData(channel: string, data: unknown, masterKey: Buffer, nonce: Uint8Array = randomBytes(24)): string {
  const plaintext = Buffer.from(JSON.stringify(data), 'utf8');
  const box = secretbox(plaintext, nonce, channelSharedSecret(channel, masterKey));
  return JSON.stringify({ nonce: Buffer.from(nonce).toString('base64'), ciphertext: box.toString('base64') });
}
