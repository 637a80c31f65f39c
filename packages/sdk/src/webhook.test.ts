import { createHmac } from 'node:crypto';
import Pusher from 'pusher';
import { describe, expect, it } from 'vitest';
import { Api } from './api.js';

const KEY = '278d425bdf160c739803';
const SECRET = '7ad3773142a6692b25b8';
const api = new Api('http://127.0.0.1:1', KEY, SECRET, { appId: '3' });
const official = new Pusher({ appId: '3', key: KEY, secret: SECRET, host: '127.0.0.1' });

const W1 = '{"time_ms":1700000000000,"events":[{"name":"channel_occupied","channel":"my-channel"}]}';
const W1_SIG = 'cb2683f8aaa9de8cdbc72838077bd6ac7c3e64c57fe83fb7b13812a1bd5df142';
const W2 =
  '{"time_ms":1700000000123,"events":[{"name":"member_added","channel":"presence-foobar","user_id":"10"},{"name":"client_event","channel":"presence-foobar","event":"client-typing","data":"{\\"typing\\":true}","socket_id":"1234.1234","user_id":"10"}]}';
const W2_SIG = '222d643a88fce856e42447e965113462e773d3b13532f5aa525a053fb50f69b2';

const sign = (body: string, secret = SECRET) => createHmac('sha256', secret).update(body).digest('hex');
const headersFor = (body: string, over: Record<string, string> = {}) => ({
  'x-pusher-key': KEY,
  'x-pusher-signature': sign(body),
  'content-type': 'application/json',
  ...over,
});
/** pusher-http-node's verdict; it throws on a missing signature header, which counts as a rejection. */
function officialValid(headers: Record<string, string>, rawBody: string): boolean {
  try {
    return official.webhook({ headers, rawBody }).isValid();
  } catch {
    return false;
  }
}

describe('verifyWebhook', () => {
  it('accepts the spec vectors W1 and W2, as pusher-http-node does', () => {
    for (const [body, sig] of [
      [W1, W1_SIG],
      [W2, W2_SIG],
    ] as const) {
      const headers = { 'x-pusher-key': KEY, 'x-pusher-signature': sig, 'content-type': 'application/json' };
      expect(officialValid(headers, body)).toBe(true);
      const r = api.verifyWebhook(headers, body);
      expect(r).toEqual({ valid: true, events: JSON.parse(body).events, timeMs: JSON.parse(body).time_ms });
    }
  });

  it('accepts what pusher-http-node accepts, for a spread of real bodies', () => {
    const bodies = [
      W1,
      W2,
      '{"time_ms":1,"events":[]}',
      '{"events":[{"name":"cache_miss","channel":"cache-x"}],"time_ms":1700000000000}',
      '{"time_ms":1700000000000,"events":[{"name":"subscription_count","channel":"c","subscription_count":3}],"extra":"é ✓"}',
      ' {"time_ms":1700000000000,"events":[{"name":"channel_vacated","channel":"c"}]}\n',
    ];
    for (const body of bodies) {
      expect(officialValid(headersFor(body), body), body).toBe(true);
      expect(api.verifyWebhook(headersFor(body), body).valid, body).toBe(true);
      expect(api.verifyWebhook(headersFor(body), Buffer.from(body)).valid, body).toBe(true);
    }
  });

  it('rejects a tampered body, a wrong key, a wrong or missing signature (and so does pusher-http-node)', () => {
    const cases: [string, Record<string, string>, string, RegExp][] = [
      ['tampered body', headersFor(W1), W1.replace('my-channel', 'my-channe1'), /Invalid X-Pusher-Signature/],
      ['one extra space', headersFor(W1), `${W1} `, /Invalid X-Pusher-Signature/],
      ['wrong key', headersFor(W1, { 'x-pusher-key': 'other-key' }), W1, /not this app key/],
      ['wrong signature', headersFor(W1, { 'x-pusher-signature': sign(W1, 'other-secret') }), W1, /Invalid X-Pusher-Signature/],
      ['upper-case signature', headersFor(W1, { 'x-pusher-signature': sign(W1).toUpperCase() }), W1, /Invalid X-Pusher-Signature/],
      ['truncated signature', headersFor(W1, { 'x-pusher-signature': sign(W1).slice(0, 63) }), W1, /Invalid X-Pusher-Signature/],
      ['no signature', { 'x-pusher-key': KEY, 'content-type': 'application/json' }, W1, /Missing X-Pusher-Signature/],
      ['no key', { 'x-pusher-signature': sign(W1), 'content-type': 'application/json' }, W1, /Missing X-Pusher-Key/],
    ];
    for (const [what, headers, body, reason] of cases) {
      expect(officialValid(headers, body), what).toBe(false);
      const r = api.verifyWebhook(headers, body);
      expect(r.valid, what).toBe(false);
      expect(!r.valid && r.reason, what).toMatch(reason);
    }
  });

  it('rejects signed bodies that are not webhooks: not JSON, no time_ms, no events', () => {
    for (const [body, reason] of [
      ['not json', /not JSON/],
      ['[1]', /not a JSON object/],
      ['{"events":[]}', /time_ms/],
      ['{"time_ms":"1700000000000","events":[]}', /time_ms/],
      ['{"time_ms":1}', /events/],
      ['{"time_ms":1,"events":[{"channel":"x"}]}', /events/],
    ] as const) {
      const r = api.verifyWebhook(headersFor(body), body);
      expect(r.valid, body).toBe(false);
      expect(!r.valid && r.reason, body).toMatch(reason);
    }
  });

  it('reads headers in any case, from a fetch Headers too, and ignores the content type', () => {
    expect(api.verifyWebhook({ 'X-Pusher-Key': KEY, 'X-Pusher-Signature': W1_SIG }, W1).valid).toBe(true);
    expect(api.verifyWebhook(new Headers({ 'X-Pusher-Key': KEY, 'X-Pusher-Signature': W1_SIG }), W1).valid).toBe(true);
    // pusher-http-node compares the content type for equality; the signature already covers the body.
    const charset = headersFor(W1, { 'content-type': 'application/json; charset=utf-8' });
    expect(officialValid(charset, W1)).toBe(false);
    expect(api.verifyWebhook(charset, W1).valid).toBe(true);
  });

  it('refuses a repeated signature header', () => {
    expect(api.verifyWebhook({ 'x-pusher-key': KEY, 'x-pusher-signature': [W1_SIG, W1_SIG] }, W1).valid).toBe(false);
  });

  it('maxAgeMs refuses old (replayed) webhooks when asked', () => {
    const headers = headersFor(W1);
    expect(api.verifyWebhook(headers, W1, { maxAgeMs: 300_000, nowMs: 1_700_000_299_000 }).valid).toBe(true);
    const r = api.verifyWebhook(headers, W1, { maxAgeMs: 300_000, nowMs: 1_700_000_301_000 });
    expect(r).toEqual({ valid: false, reason: 'time_ms is more than 300000 ms away from now' });
  });
});
