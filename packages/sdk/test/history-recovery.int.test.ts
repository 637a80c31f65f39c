import { describe, expect, it } from 'vitest';
import { Api } from '../src/api.js';
import { HeraldApiError } from '../src/errors.js';
import { RawClient, startTestGateway } from '@herald/test-support';

/** `Api.history`: a channel's kept events, paged, against a real gateway with message recovery on. */
describe('Api.history', () => {
  it('pages a channel history forward with since, or reads the newest first', async () => {
    await using t = await startTestGateway({ apps: [{ history: { size: 20, ttlSeconds: 60 } }] });
    await using api = new Api(t.apiUrl, t.app.key, t.app.secret, { appId: t.app.id });
    const c = await RawClient.established(t);
    try {
      await c.subscribe('private-log', { ...api.authorizeChannel(c.socketId, 'private-log') });
      for (let i = 0; i < 5; i++) await api.trigger('private-log', 'step', { i });
      const first = await api.history('private-log', { limit: 2 });
      expect(first.events.map((e) => JSON.parse(e.data) as unknown)).toEqual([{ i: 0 }, { i: 1 }]);
      expect(first.events[0]).toMatchObject({ event: 'step', position: expect.stringMatching(/^[0-9a-z]{8,16}:1$/) });
      expect(first.position).toMatch(/:5$/);
      const next = await api.history('private-log', { limit: 2, since: first.events.at(-1)!.position });
      expect(next.events.map((e) => JSON.parse(e.data) as unknown)).toEqual([{ i: 2 }, { i: 3 }]);
      const newest = await api.history('private-log', { limit: 2, direction: 'backward' });
      expect(newest.events.map((e) => JSON.parse(e.data) as unknown)).toEqual([{ i: 4 }, { i: 3 }]);
      // Checked before sending.
      await expect(api.history('private-log', { limit: 0 })).rejects.toBeInstanceOf(HeraldApiError);
      await expect(api.history('private-log', { since: 'not a position' })).rejects.toBeInstanceOf(HeraldApiError);
      // Refused by the server: another epoch.
      const lost = await api.history('private-log', { since: 'zzzzzzzz:1' }).catch((e: unknown) => e);
      expect(lost).toBeInstanceOf(HeraldApiError);
      expect((lost as HeraldApiError).status).toBe(400);
    } finally {
      c.close();
    }
  });
});
