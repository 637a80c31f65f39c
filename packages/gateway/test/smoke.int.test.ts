import { describe, expect, it } from 'vitest';
import { connectPusherJs, startAuthServer, startTestGateway, subscribeAndWait, waitForState } from '@herald/test-support';

describe('smoke: pusher-js and the pusher SDK against one gateway', () => {
  it('uses the native uWebSockets.js binary', async () => {
    await using t = await startTestGateway();
    expect(t.gw.native).toBe(true);
  });

  it('delivers a triggered event on public and private channels', async () => {
    await using t = await startTestGateway();
    await using auth = await startAuthServer(t.sdk);
    const client = connectPusherJs(t, { authEndpoint: auth.authEndpoint });
    try {
      await waitForState(client, 'connected');
      const pub = await subscribeAndWait(client, 'user-1');
      const priv = await subscribeAndWait(client, 'private-user-1');
      const got: unknown[] = [];
      pub.bind('message', (d: unknown) => got.push(['pub', d]));
      priv.bind('message', (d: unknown) => got.push(['priv', d]));
      await t.sdk.trigger(['user-1', 'private-user-1'], 'message', { text: 'hi' });
      await expect.poll(() => got).toHaveLength(2);
      expect(got).toContainEqual(['pub', { text: 'hi' }]);
      expect(got).toContainEqual(['priv', { text: 'hi' }]);
    } finally {
      client.disconnect();
    }
  });
});
