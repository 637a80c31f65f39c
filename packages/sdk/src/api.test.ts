import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Api } from './api.js';
import { HeraldApiError, HeraldApiErrorCode } from './errors.js';
import { resolveOptions } from './options.js';

const SECRET = 'very-secret-value-123';
const make = (opts: Partial<ConstructorParameters<typeof Api>[3]> = {}, url = 'http://127.0.0.1:1') => new Api(url, 'app-key', SECRET, { appId: '7', ...opts });

function optionsError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HeraldApiError);
    expect((err as HeraldApiError).code).toBe(HeraldApiErrorCode.InvalidOptions);
    return (err as HeraldApiError).message;
  }
  throw new Error('expected PUSH_ERR_SDK_INVALID_OPTIONS');
}

describe('Api construction', () => {
  it('refuses unusable options with PUSH_ERR_SDK_INVALID_OPTIONS', () => {
    expect(optionsError(() => make({}, 'not a url'))).toMatch(/Invalid base URL/);
    expect(optionsError(() => make({}, 'ws://127.0.0.1:3232'))).toMatch(/Unsupported protocol/);
    expect(optionsError(() => make({}, 'http://127.0.0.1:3232/?x=1'))).toMatch(/query/);
    expect(optionsError(() => make({}, 'http://user:pw@127.0.0.1:3232'))).toMatch(/credentials/);
    expect(optionsError(() => new Api('http://h', '', SECRET, { appId: '1' }))).toMatch(/app key/);
    expect(optionsError(() => new Api('http://h', 'k', '', { appId: '1' }))).toMatch(/app secret/);
    expect(optionsError(() => new Api('http://h', 'k', SECRET, undefined as never))).toMatch(/appId/);
    expect(optionsError(() => make({ appId: '' }))).toMatch(/appId/);
    expect(optionsError(() => make({ timeoutMs: 0 }))).toMatch(/timeoutMs/);
    expect(optionsError(() => make({ timeoutMs: Number.NaN }))).toMatch(/timeoutMs/);
    expect(optionsError(() => make({ encode: 'never' as never }))).toMatch(/encode/);
    expect(optionsError(() => make({ limits: { maxEventPayloadBytes: -1 } }))).toMatch(/maxEventPayloadBytes/);
    expect(optionsError(() => make({ limits: { nope: 1 } as never }))).toMatch(/Unknown limit/);
  });

  it('checks the master key without echoing it', () => {
    const short = Buffer.alloc(16, 7).toString('base64');
    const msg = optionsError(() => make({ encryptionMasterKeyBase64: short }));
    expect(msg).toMatch(/32 bytes, not 16/);
    expect(msg).not.toContain(short);
    expect(optionsError(() => make({ encryptionMasterKeyBase64: 'not base64!' }))).toMatch(/valid base64/);
  });

  it('resolves defaults: 10 s timeout, keep-alive, auto encoding, Pusher limits; numeric app ids; URL prefix', () => {
    const o = resolveOptions('https://push.example.com/herald/', 'k', 's', { appId: 42 });
    expect(o).toMatchObject({ appId: '42', timeoutMs: 10_000, keepAlive: true, encode: 'auto', pathPrefix: '/herald', masterKey: undefined });
    expect(o.limits).toEqual({
      maxChannelNameLength: 200,
      maxEventNameLength: 200,
      maxEventPayloadBytes: 10_240,
      maxChannelsPerTrigger: 100,
      maxBatchSize: 10,
    });
    expect(Object.isFrozen(o)).toBe(true);
    expect(resolveOptions('http://127.0.0.1:3232', 'k', 's', { appId: '1' }).pathPrefix).toBe('');
  });

  it('never shows the secret when logged or serialised', () => {
    const api = make({ encryptionMasterKeyBase64: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=' });
    expect(inspect(api, { depth: 10, showHidden: true })).not.toContain(SECRET);
    expect(JSON.stringify(api)).not.toContain(SECRET);
    expect(api.appKey).toBe('app-key');
    expect(api.appId).toBe('7');
  });
});

describe('Api requests without a server', () => {
  it('bad input is a rejection (not a synchronous throw) with status 0, and nothing is sent', async () => {
    const api = make();
    let p: Promise<unknown> | undefined;
    expect(() => (p = api.trigger('bad channel', 'e', 'd'))).not.toThrow();
    await expect(p).rejects.toMatchObject({ name: 'HeraldApiError', code: HeraldApiErrorCode.InvalidArgument, status: 0, body: '' });
    await expect(api.triggerBatch([])).rejects.toMatchObject({ code: HeraldApiErrorCode.InvalidArgument });
    await expect(api.users('private-x')).rejects.toMatchObject({ code: HeraldApiErrorCode.InvalidArgument });
    await expect(api.sendToUser('', 'e', 'd')).rejects.toMatchObject({ code: HeraldApiErrorCode.InvalidArgument });
    await expect(api.terminateUserConnections('')).rejects.toMatchObject({ code: HeraldApiErrorCode.InvalidArgument });
    await expect(api.channel('a b')).rejects.toMatchObject({ code: HeraldApiErrorCode.InvalidArgument });
    await api.close();
  });

  it('after close(), requests reject with PUSH_ERR_SDK_CLOSED; signing still works', async () => {
    const api = make();
    await api.close();
    await expect(api.trigger('c', 'e', 'd')).rejects.toMatchObject({ code: HeraldApiErrorCode.Closed, status: 0 });
    await expect(api.channels()).rejects.toBeInstanceOf(HeraldApiError);
    expect(api.authorizeChannel('1.1', 'private-x').auth).toMatch(/^app-key:[0-9a-f]{64}$/);
  });

  it('is async-disposable', async () => {
    let api: Api | undefined;
    {
      await using a = make();
      api = a;
    }
    await expect(api.trigger('c', 'e', 'd')).rejects.toMatchObject({ code: HeraldApiErrorCode.Closed });
  });
});
