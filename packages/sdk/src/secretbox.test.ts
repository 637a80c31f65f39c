import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { channelSharedSecret, encryptEventData } from './encryption.js';
import { secretbox } from './secretbox.js';

const MASTER = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const NONCE = Buffer.from([...Array(24).keys()]);

describe('secretbox (XSalsa20-Poly1305)', () => {
  it('matches tweetnacl for random keys, nonces and every length around block and chunk edges', () => {
    const lengths = [0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 1000, 10240];
    for (const len of lengths) {
      for (let i = 0; i < 4; i++) {
        const key = randomBytes(32);
        const nonce = randomBytes(24);
        const msg = randomBytes(len);
        expect(secretbox(msg, nonce, key).toString('hex'), `length ${len}`).toBe(Buffer.from(nacl.secretbox(msg, nonce, key)).toString('hex'));
      }
    }
  });

  it('matches tweetnacl with all-0xff keys and messages (carry paths in Poly1305)', () => {
    const key = Buffer.alloc(32, 0xff);
    const nonce = Buffer.alloc(24, 0xff);
    for (const len of [16, 48, 100]) {
      const msg = Buffer.alloc(len, 0xff);
      expect(secretbox(msg, nonce, key)).toEqual(Buffer.from(nacl.secretbox(msg, nonce, key)));
    }
  });

  it('opens with tweetnacl', () => {
    const key = randomBytes(32);
    const nonce = randomBytes(24);
    const box = secretbox(Buffer.from('hello'), nonce, key);
    expect(Buffer.from(nacl.secretbox.open(box, nonce, key)!).toString()).toBe('hello');
  });

  it('refuses wrong key and nonce sizes', () => {
    expect(() => secretbox(Buffer.alloc(1), Buffer.alloc(24), Buffer.alloc(31))).toThrow(RangeError);
    expect(() => secretbox(Buffer.alloc(1), Buffer.alloc(23), Buffer.alloc(32))).toThrow(RangeError);
  });
});

describe('encrypted channel payloads (docs/reference/auth.md#worked-examples)', () => {
  it('derives the shared secret of the spec vector', () => {
    expect(channelSharedSecret('private-encrypted-foobar', MASTER).toString('base64')).toBe('g3Au6SZ+UCU+IMfFsFva0rq+Gi4tzSHR6WCcWZbS9sY=');
  });

  it('produces the spec worked payload with the deterministic nonce', () => {
    // The spec's plaintext is the JSON of {message: 'hello world'}.
    expect(encryptEventData('private-encrypted-foobar', { message: 'hello world' }, MASTER, NONCE)).toBe(
      '{"nonce":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYX","ciphertext":"JudJzMunSIiVrODAo+lfpUsGJzgoj596PYEg0Ekt7UbHsg5iiqAaZxI="}',
    );
  });

  it('uses a fresh nonce per call and decrypts to JSON.stringify(data), strings included', () => {
    const a = JSON.parse(encryptEventData('private-encrypted-x', 'hi', MASTER)) as { nonce: string; ciphertext: string };
    const b = JSON.parse(encryptEventData('private-encrypted-x', 'hi', MASTER)) as { nonce: string; ciphertext: string };
    expect(a.nonce).not.toBe(b.nonce);
    const opened = nacl.secretbox.open(Buffer.from(a.ciphertext, 'base64'), Buffer.from(a.nonce, 'base64'), channelSharedSecret('private-encrypted-x', MASTER));
    expect(Buffer.from(opened!).toString()).toBe('"hi"');
  });
});
