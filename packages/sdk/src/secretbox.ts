/**
 * NaCl `crypto_secretbox` (XSalsa20-Poly1305), encryption only: what Pusher's end-to-end encrypted
 * channels use and pusher-js decrypts with tweetnacl. Node's OpenSSL has neither XSalsa20 nor a
 * NaCl-compatible box, and the SDK depends on nothing but @herald/protocol, hence this small
 * implementation; secretbox.test.ts checks it byte for byte against tweetnacl.
 *
 * Not constant-time with respect to the message (BigInt Poly1305); the key and nonce are per-channel and
 * random, and event payloads are at most tens of KB.
 */

const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574] as const;

const rotl = (v: number, c: number) => (v << c) | (v >>> (32 - c));

/** 20 Salsa20 rounds over the 16-word state, in place (additions wrap: `<<`/`>>>` take them mod 2^32). */
function rounds(s: Uint32Array): void {
  let x0 = s[0]!,
    x1 = s[1]!,
    x2 = s[2]!,
    x3 = s[3]!,
    x4 = s[4]!,
    x5 = s[5]!,
    x6 = s[6]!,
    x7 = s[7]!;
  let x8 = s[8]!,
    x9 = s[9]!,
    x10 = s[10]!,
    x11 = s[11]!,
    x12 = s[12]!,
    x13 = s[13]!,
    x14 = s[14]!,
    x15 = s[15]!;
  for (let i = 0; i < 20; i += 2) {
    // column round
    x4 ^= rotl(x0 + x12, 7);
    x8 ^= rotl(x4 + x0, 9);
    x12 ^= rotl(x8 + x4, 13);
    x0 ^= rotl(x12 + x8, 18);
    x9 ^= rotl(x5 + x1, 7);
    x13 ^= rotl(x9 + x5, 9);
    x1 ^= rotl(x13 + x9, 13);
    x5 ^= rotl(x1 + x13, 18);
    x14 ^= rotl(x10 + x6, 7);
    x2 ^= rotl(x14 + x10, 9);
    x6 ^= rotl(x2 + x14, 13);
    x10 ^= rotl(x6 + x2, 18);
    x3 ^= rotl(x15 + x11, 7);
    x7 ^= rotl(x3 + x15, 9);
    x11 ^= rotl(x7 + x3, 13);
    x15 ^= rotl(x11 + x7, 18);
    // row round
    x1 ^= rotl(x0 + x3, 7);
    x2 ^= rotl(x1 + x0, 9);
    x3 ^= rotl(x2 + x1, 13);
    x0 ^= rotl(x3 + x2, 18);
    x6 ^= rotl(x5 + x4, 7);
    x7 ^= rotl(x6 + x5, 9);
    x4 ^= rotl(x7 + x6, 13);
    x5 ^= rotl(x4 + x7, 18);
    x11 ^= rotl(x10 + x9, 7);
    x8 ^= rotl(x11 + x10, 9);
    x9 ^= rotl(x8 + x11, 13);
    x10 ^= rotl(x9 + x8, 18);
    x12 ^= rotl(x15 + x14, 7);
    x13 ^= rotl(x12 + x15, 9);
    x14 ^= rotl(x13 + x12, 13);
    x15 ^= rotl(x14 + x13, 18);
  }
  s.set([x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15]);
}

/** The Salsa20 input block: constants, a 32-byte key and 16 bytes of nonce/counter. */
function initialState(key: Uint8Array, input16: Uint8Array): Uint32Array {
  const k = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  const n = Buffer.from(input16.buffer, input16.byteOffset, input16.byteLength);
  const s = new Uint32Array(16);
  s[0] = SIGMA[0];
  s[5] = SIGMA[1];
  s[10] = SIGMA[2];
  s[15] = SIGMA[3];
  for (let i = 0; i < 4; i++) {
    s[1 + i] = k.readUInt32LE(4 * i);
    s[11 + i] = k.readUInt32LE(16 + 4 * i);
    s[6 + i] = n.readUInt32LE(4 * i);
  }
  return s;
}

/** HSalsa20: derives the XSalsa20 subkey from the key and the first 16 nonce bytes. */
function hsalsa20(key: Uint8Array, nonce16: Uint8Array): Buffer {
  const x = initialState(key, nonce16);
  rounds(x);
  const out = Buffer.alloc(32);
  [0, 5, 10, 15, 6, 7, 8, 9].forEach((w, i) => out.writeUInt32LE(x[w]!, 4 * i));
  return out;
}

/** XORs `data` with the XSalsa20 key stream for (key, 24-byte nonce), starting at block 0. */
function xsalsa20Xor(key: Uint8Array, nonce: Uint8Array, data: Uint8Array): Buffer {
  const subkey = hsalsa20(key, nonce.subarray(0, 16));
  const input = Buffer.alloc(16);
  input.set(nonce.subarray(16, 24), 0);
  const out = Buffer.alloc(data.length);
  const block = Buffer.alloc(64);
  for (let off = 0, counter = 0; off < data.length; off += 64, counter++) {
    input.writeUInt32LE(counter >>> 0, 8);
    input.writeUInt32LE(Math.floor(counter / 0x1_0000_0000), 12);
    const init = initialState(subkey, input);
    const x = init.slice();
    rounds(x);
    for (let i = 0; i < 16; i++) block.writeUInt32LE((x[i]! + init[i]!) >>> 0, 4 * i);
    const n = Math.min(64, data.length - off);
    for (let i = 0; i < n; i++) out[off + i] = data[off + i]! ^ block[i]!;
  }
  return out;
}

const P1305 = (1n << 130n) - 5n;
const CLAMP = 0x0ffffffc0ffffffc0ffffffc0fffffffn;

const leToBigInt = (b: Uint8Array) => {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
};

/** Poly1305 one-time authenticator (RFC 8439 §2.5) with a 32-byte one-time key. */
function poly1305(oneTimeKey: Uint8Array, msg: Uint8Array): Buffer {
  const r = leToBigInt(oneTimeKey.subarray(0, 16)) & CLAMP;
  const s = leToBigInt(oneTimeKey.subarray(16, 32));
  let acc = 0n;
  for (let off = 0; off < msg.length; off += 16) {
    const chunk = msg.subarray(off, Math.min(off + 16, msg.length));
    acc = ((acc + leToBigInt(chunk) + (1n << BigInt(8 * chunk.length))) * r) % P1305;
  }
  let tag = (acc + s) & ((1n << 128n) - 1n);
  const out = Buffer.alloc(16);
  for (let i = 0; i < 16; i++, tag >>= 8n) out[i] = Number(tag & 0xffn);
  return out;
}

/**
 * `nacl.secretbox(message, nonce, key)`: a 16-byte Poly1305 tag followed by the XSalsa20 ciphertext.
 * `nonce` must be 24 bytes, never reused with the same key; `key` 32 bytes.
 */
export function secretbox(message: Uint8Array, nonce: Uint8Array, key: Uint8Array): Buffer {
  if (key.length !== 32) throw new RangeError('secretbox key must be 32 bytes');
  if (nonce.length !== 24) throw new RangeError('secretbox nonce must be 24 bytes');
  // The first 32 key-stream bytes are the Poly1305 key; the message is XORed with the rest.
  const padded = new Uint8Array(32 + message.length);
  padded.set(message, 32);
  const stream = xsalsa20Xor(key, nonce, padded);
  const ciphertext = stream.subarray(32);
  return Buffer.concat([poly1305(stream.subarray(0, 32), ciphertext), ciphertext]);
}
