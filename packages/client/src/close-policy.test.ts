import { PusherErrorCode } from '@herald/protocol';
import { describe, expect, it } from 'vitest';
import { ReconnectAction, reconnectActionFor } from './close-policy.js';

describe('close-code policy', () => {
  it.each([
    [4000, ReconnectAction.Never],
    [4001, ReconnectAction.Never],
    [4009, ReconnectAction.Never],
    [4099, ReconnectAction.Never],
    [4100, ReconnectAction.SlowBackoff],
    [4199, ReconnectAction.SlowBackoff],
    [4200, ReconnectAction.Now],
    [4201, ReconnectAction.Now],
    [4299, ReconnectAction.Now],
    [4300, ReconnectAction.Never],
    [4999, ReconnectAction.Never],
    [1000, ReconnectAction.Backoff],
    [1001, ReconnectAction.Backoff],
    [1006, ReconnectAction.Backoff],
    [1011, ReconnectAction.Backoff],
    [3000, ReconnectAction.Backoff],
    [undefined, ReconnectAction.Backoff],
  ])('close code %s → %s', (code, action) => {
    expect(reconnectActionFor(code)).toBe(action);
  });

  it("agrees with every code of the protocol's table", () => {
    for (const code of Object.values(PusherErrorCode)) {
      const expected = code < 4100 ? 'never' : code < 4200 ? 'slow-backoff' : code < 4300 ? 'now' : 'never';
      expect(reconnectActionFor(code)).toBe(expected);
    }
  });
});
