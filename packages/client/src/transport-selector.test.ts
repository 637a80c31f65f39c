import { describe, expect, it } from 'vitest';
import { AfterFailure, ALL_TRANSPORTS, FIRST_TRANSPORT_RETRY_MS, TransportSelector } from './transport-selector.js';

function selector(names = ALL_TRANSPORTS) {
  let now = 0;
  const s = new TransportSelector(names, () => now);
  s.start();
  return {
    s,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('TransportSelector', () => {
  it('starts with the first transport', () => {
    expect(selector().s.current).toBe('ws');
    expect(selector(['xhr_polling', 'ws']).s.current).toBe('xhr_polling');
  });

  it('leaves a WebSocket after two failed opens in a row, for the next transport at once', () => {
    const { s } = selector();
    expect(s.failed(false)).toBe(AfterFailure.Retry);
    expect(s.current).toBe('ws');
    expect(s.failed(false)).toBe(AfterFailure.Next);
    expect(s.current).toBe('xhr_streaming');
  });

  it('leaves a WebSocket after one attempt that timed out', () => {
    const { s } = selector();
    expect(s.failed(true)).toBe(AfterFailure.Next);
    expect(s.current).toBe('xhr_streaming');
  });

  it('counts failures in a row only: the server answering over the WebSocket resets the count', () => {
    const { s } = selector();
    s.failed(false);
    s.reached(); // e.g. closed with 4100 before connection_established
    expect(s.failed(false)).toBe(AfterFailure.Retry);
    expect(s.current).toBe('ws');
  });

  it('goes from a stream that timed out (a buffering proxy) to polling at once', () => {
    const { s } = selector();
    s.failed(true);
    expect(s.failed(true)).toBe(AfterFailure.Next);
    expect(s.current).toBe('xhr_polling');
  });

  it('goes back to the first transport when an HTTP transport got no answer (the server is down)', () => {
    const { s } = selector();
    s.failed(true);
    expect(s.current).toBe('xhr_streaming');
    expect(s.failed(false)).toBe(AfterFailure.First);
    expect(s.current).toBe('ws');
  });

  it('comes back to the first transport after the last, with the back-off', () => {
    const { s } = selector();
    s.failed(true);
    s.failed(true);
    expect(s.current).toBe('xhr_polling');
    expect(s.failed(true)).toBe(AfterFailure.First);
    expect(s.current).toBe('ws');
    const only = selector(['ws']).s;
    only.failed(false);
    expect(only.failed(false)).toBe(AfterFailure.First);
    expect(only.current).toBe('ws');
  });

  it('starts new connections over the transport that worked', () => {
    const { s, advance } = selector();
    s.failed(false);
    s.failed(false);
    s.established();
    advance(60_000);
    s.start(); // the connection was lost: a reconnect
    expect(s.current).toBe('xhr_streaming');
  });

  it(`tries the first transport again on the first new connection ${FIRST_TRANSPORT_RETRY_MS / 60_000} minutes after falling back`, () => {
    const { s, advance } = selector();
    s.failed(true);
    s.established();
    advance(FIRST_TRANSPORT_RETRY_MS - 1);
    s.start();
    expect(s.current).toBe('xhr_streaming');
    // Connecting again over the fallback does not restart the clock.
    s.established();
    advance(1);
    s.start();
    expect(s.current).toBe('ws');
    // Still refused: back to streaming, and another five minutes there.
    s.failed(true);
    s.established();
    advance(FIRST_TRANSPORT_RETRY_MS - 1);
    s.start();
    expect(s.current).toBe('xhr_streaming');
  });

  it('keeps the first transport remembered without expiry', () => {
    const { s, advance } = selector();
    s.established();
    advance(FIRST_TRANSPORT_RETRY_MS * 10);
    s.start();
    expect(s.current).toBe('ws');
  });
});
