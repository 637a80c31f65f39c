import { encryptEventData, isEncryptedChannel } from './encryption.js';
import { invalidArgument } from './errors.js';
import type { DataEncoding, SdkLimits } from './options.js';
import { assertDataSize } from './validate.js';

function toJson(data: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch (err) {
    throw invalidArgument(`Event data cannot be JSON-encoded: ${(err as Error).message}`, { cause: err });
  }
  if (json === undefined) throw invalidArgument(`Event data of type ${typeof data} cannot be JSON-encoded`);
  return json;
}

/**
 * The exact `data` string sent for an event on `channels`. Encrypted channels get the
 * `{nonce, ciphertext}` envelope and must be triggered alone (the key is per channel). The result is
 * checked against `maxEventPayloadBytes` (UTF-8 bytes, what the server counts).
 */
export function encodeEventData(
  channels: readonly string[],
  data: unknown,
  opts: { encode: DataEncoding; masterKey: Buffer | undefined; limits: Pick<SdkLimits, 'maxEventPayloadBytes'> },
): string {
  let out: string;
  if (channels.some(isEncryptedChannel)) {
    if (channels.length !== 1) throw invalidArgument('An event on a private-encrypted- channel must be triggered on that channel alone');
    if (opts.masterKey === undefined) {
      throw invalidArgument('Triggering on a private-encrypted- channel needs the encryptionMasterKeyBase64 option');
    }
    toJson(data); // same refusal as unencrypted data for undefined, cycles, BigInt
    out = encryptEventData(channels[0]!, data, opts.masterKey);
  } else {
    out = opts.encode === 'auto' && typeof data === 'string' ? data : toJson(data);
  }
  assertDataSize(out, opts.limits);
  return out;
}
