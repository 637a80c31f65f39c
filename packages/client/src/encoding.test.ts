import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { base64ToBytes, bytesToBase64, utf8Decode, utf8Encode } from './encoding.js';

afterEach(() => vi.unstubAllGlobals());

describe('base64 without atob/Buffer', () => {
  it('round-trips random bytes of every length mod 3, like Buffer', () => {
    for (let n = 0; n < 70; n++) {
      const bytes = new Uint8Array(randomBytes(n));
      const b64 = Buffer.from(bytes).toString('base64');
      expect(bytesToBase64(bytes)).toBe(b64);
      expect([...base64ToBytes(b64)]).toEqual([...bytes]);
      expect([...base64ToBytes(Buffer.from(bytes).toString('base64url'))]).toEqual([...bytes]);
    }
  });

  it('rejects characters outside the alphabet', () => {
    expect(() => base64ToBytes('ab$c')).toThrow(TypeError);
  });
});

describe('UTF-8 without TextDecoder/TextEncoder (uni-app native runtimes)', () => {
  const samples = ['hello', 'héllo wörld', '你好，这个是消息内容', 'emoji 🎉 and 𝄞', ''];

  it('decodes and encodes like Buffer', () => {
    vi.stubGlobal('TextDecoder', undefined);
    vi.stubGlobal('TextEncoder', undefined);
    for (const s of samples) {
      const bytes = new Uint8Array(Buffer.from(s, 'utf8'));
      expect(utf8Decode(bytes)).toBe(s);
      expect([...utf8Encode(s)]).toEqual([...bytes]);
    }
  });

  it('replaces invalid sequences with U+FFFD instead of throwing', () => {
    vi.stubGlobal('TextDecoder', undefined);
    expect(utf8Decode(new Uint8Array([0x61, 0xff, 0x62, 0xe4, 0xbd]))).toBe('a\ufffdb\ufffd\ufffd');
  });
});
