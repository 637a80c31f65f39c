import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { clientBundleFile, clientBundleRoutes } from '../../gateway/src/api/client-bundle.js';
import type { ApiContext } from '../../gateway/src/api/context.js';
import { distDir } from '../build.mjs';

// The gateway route that serves this package's IIFE bundle (GET /push.js). The browser tests load
// it for real; these cover what they cannot: the path it reads, and the answer when not built.

async function serve(clientBundle: ApiContext['clientBundle']) {
  const f = Fastify();
  await f.register(clientBundleRoutes, { clientBundle } as ApiContext);
  return f;
}

describe('gateway client-bundle route', () => {
  it('reads packages/client/dist/push.js, through the package’s ./push.js export', () => {
    expect(clientBundleFile()).toBe(`${distDir}/push.js`);
  });

  it('serves the bundle as JavaScript at /push.js and at webman’s path', async () => {
    const f = await serve(() => Buffer.from('window.Push = function () {};'));
    for (const url of ['/push.js', '/plugin/webman/push/push.js']) {
      const res = await f.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('application/javascript; charset=utf-8');
      expect(res.body).toBe('window.Push = function () {};');
      // Any page may load the script (the REST API's answers carry no CORS header).
      expect(res.headers['access-control-allow-origin']).toBe('*');
    }
    await f.close();
  });

  it('answers 404 with a JSON error saying how to build it when it is not built', async () => {
    const f = await serve(() => undefined);
    const res = await f.inject({ method: 'GET', url: '/push.js' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({
      error: expect.stringContaining('npm run build -w @herald/client'),
      code: 404,
      error_code: 'PUSH_ERR_NOT_FOUND',
      type: 'PUSH_ERR_NOT_FOUND',
    });
    await f.close();
  });
});
