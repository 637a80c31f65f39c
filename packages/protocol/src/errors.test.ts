import { describe, expect, it } from 'vitest';
import {
  PUSHER_ERRORS,
  PusherError,
  PusherErrorCode,
  pusherError,
  SubscriptionError,
  SubscriptionErrorType,
  appDisabled,
  appNotFound,
  clientEventRateLimited,
  invalidJson,
  overCapacity,
  overConnectionQuota,
  pathNotFound,
  pongTimeout,
  reconnectNow,
  toPusherError,
  unsupportedProtocol,
} from './errors.js';
import * as protocol from './index.js';

describe('PusherErrorCode (docs/reference/protocol.md#error-and-close-codes)', () => {
  it('has the documented numbers', () => {
    expect(PusherErrorCode).toEqual({
      TlsOnly: 4000,
      AppNotFound: 4001,
      AppDisabled: 4003,
      OverConnectionQuota: 4004,
      PathNotFound: 4005,
      InvalidVersionFormat: 4006,
      UnsupportedProtocol: 4007,
      NoProtocolVersion: 4008,
      Unauthorized: 4009,
      OverCapacity: 4100,
      ReconnectNow: 4200,
      PongTimeout: 4201,
      ClosedAfterInactivity: 4202,
      ClientEventRateLimited: 4301,
      WatchlistTooLong: 4302,
    });
  });
});

describe('PusherError', () => {
  it('closes for codes below 4300, never for null or 4300+', () => {
    expect(new PusherError(4001, 'x').closeConnection).toBe(true);
    expect(new PusherError(4100, 'x').closeConnection).toBe(true);
    expect(new PusherError(4201, 'x').closeConnection).toBe(true);
    expect(new PusherError(4301, 'x').closeConnection).toBe(false);
    expect(new PusherError(4302, 'x').closeConnection).toBe(false);
    expect(new PusherError(null, 'x').closeConnection).toBe(false);
  });

  it('explicit closeConnection overrides the default', () => {
    expect(new PusherError(4009, 'x', false).closeConnection).toBe(false);
    expect(new PusherError(null, 'x', true).closeConnection).toBe(true);
  });

  it('is an Error with name, code, message and cause', () => {
    const cause = new Error('root');
    const e = new PusherError(4200, 'bye', true, { cause });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('PusherError');
    expect(e.code).toBe(4200);
    expect(e.message).toBe('bye');
    expect(e.cause).toBe(cause);
  });
});

describe('error factories', () => {
  it.each([
    [appNotFound('k1'), 4001, 'App key k1 not in this cluster', true],
    [appDisabled(), 4003, 'Application disabled', true],
    [overConnectionQuota(), 4004, 'Application is over connection quota', true],
    [pathNotFound(), 4005, 'Path not found', true],
    [unsupportedProtocol('9'), 4007, 'Unsupported protocol version: 9', true],
    [invalidJson(), null, 'Received invalid JSON', false],
    [reconnectNow(), 4200, 'Server is shutting down, please reconnect', true],
    [reconnectNow('drain'), 4200, 'drain', true],
    [pongTimeout(), 4201, 'Pong reply not received', true],
    [overCapacity(), 4100, 'Over capacity', true],
    [clientEventRateLimited(), 4301, 'Client event rejected due to rate limit', false],
  ] as const)('%#: code %s', (err, code, message, close) => {
    expect(err).toBeInstanceOf(PusherError);
    expect(err.code).toBe(code);
    expect(err.message).toBe(message);
    expect(err.closeConnection).toBe(close);
  });
});

describe('PUSHER_ERRORS registry', () => {
  it('makes each error with the code, close behaviour and message of its entry', () => {
    expect(pusherError('SigninFailed', 'bad auth')).toMatchObject({ code: 4009, closeConnection: false, message: 'bad auth' });
    expect(pusherError('Unauthorized', 'terminated')).toMatchObject({ code: 4009, closeConnection: true, message: 'terminated' });
    expect(pusherError('TooManyQueuedFrames', 100)).toMatchObject({
      code: 4301,
      closeConnection: true,
      message: 'Too many frames waiting (max 100): slow down',
    });
    expect(pusherError('NotAClientEvent', 'x'.repeat(100))).toMatchObject({
      code: null,
      closeConnection: false,
      message: `Event "${'x'.repeat(64)}" rejected: client events must start with client-`,
    });
    for (const [name, spec] of Object.entries(PUSHER_ERRORS)) {
      const err = (pusherError as (n: string, ...a: unknown[]) => PusherError)(name, 'why', 'more');
      expect([err.code, err.closeConnection], name).toEqual([spec.code, spec.closes]);
    }
  });

  it('closes only with a code: a null-code error never closes the socket', () => {
    expect(Object.entries(PUSHER_ERRORS).filter(([, e]) => e.code === null && e.closes)).toEqual([]);
  });
});

describe('toPusherError', () => {
  it('returns PusherErrors unchanged', () => {
    const e = invalidJson();
    expect(toPusherError(e)).toBe(e);
  });

  it('wraps anything else as 4200 "Internal error" (closing, reconnect now) keeping the cause', () => {
    const boom = new TypeError('boom');
    const e = toPusherError(boom);
    expect(e.code).toBe(4200);
    expect(e.message).toBe('Internal error');
    expect(e.closeConnection).toBe(true);
    expect(e.cause).toBe(boom);
    expect(toPusherError('str').cause).toBe('str');
  });
});

describe('SubscriptionError', () => {
  it('keeps channel, type, message and status', () => {
    const e = new SubscriptionError('presence-x', SubscriptionErrorType.LimitReached, 'full', 4100);
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('SubscriptionError');
    expect([e.channel, e.type, e.message, e.status]).toEqual(['presence-x', 'LimitReached', 'full', 4100]);
    expect(SubscriptionErrorType).toEqual({ AuthError: 'AuthError', LimitReached: 'LimitReached', InvalidChannel: 'InvalidChannel' });
  });
});

describe('package entry point', () => {
  it('re-exports the public API', () => {
    for (const name of [
      'PusherError',
      'parseClientFrame',
      'encodePresenceSucceeded',
      'verifyAuthValue',
      'verifyApiRequest',
      'signApiRequest',
      'parseQueryString',
      'parsePresenceData',
      'parseUserData',
      'channelKind',
      'isValidChannelName',
      'isValidSocketId',
      'signWebhook',
      'DEFAULT_LIMITS',
    ]) {
      expect(protocol, name).toHaveProperty(name);
    }
    expect(protocol.PusherError).toBe(PusherError);
  });
});
