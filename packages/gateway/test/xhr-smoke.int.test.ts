import { describe, expect, it } from 'vitest';
import { connectPusherJs, startTestGateway, subscribeAndWait, waitForState } from '@herald/test-support';

describe('smoke', () => {
  for (const transport of ['xhr_streaming', 'xhr_polling'] as const) {
    it(transport, async () => {
      await using t = await startTestGateway();
      const c = connectPusherJs(t, { transport });
      await waitForState(c, 'connected');
      const ch = await subscribeAndWait(c, 'news');
      const got: unknown[] = [];
      ch.bind('ev', (d: unknown) => got.push(d));
      await t.sdk.trigger('news', 'ev', { n: 1 });
      await expect.poll(() => got).toEqual([{ n: 1 }]);
      expect(c.connection.socket_id).toMatch(/^\d+\.\d+$/);
      c.disconnect();
    });
  }
});
