import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { FastifyPluginAsync } from 'fastify';
import type { ApiContext } from './context.js';
import { apiError, apiErrorBody } from './errors.js';

const require = createRequire(import.meta.url);

/**
 * The browser bundle's path, through the `./push.js` export of `@herald/client` (its build writes
 * the file); undefined while it is not built, since resolution needs the file to exist. Resolved
 * per call, so a bundle built after the start is found.
 */
export function clientBundleFile(): string | undefined {
  try {
    return require.resolve('@herald/client/push.js');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return undefined;
    throw err;
  }
}

/** Herald's own path, and webman/push's (route.php), so existing `<script src>` tags keep working. */
const CLIENT_BUNDLE_PATHS = ['/push.js', '/plugin/webman/push/push.js'] as const;

async function readBundle(): Promise<Buffer | undefined> {
  const file = clientBundleFile();
  if (file === undefined) return undefined;
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * GET /push.js and /plugin/webman/push/push.js: the browser client (global `Push`). The file is
 * read on each request, so a rebuild is served without a restart; `ctx.clientBundle`, when set,
 * replaces the file. Not built: 404 with a JSON error saying how to build it.
 */
export const clientBundleRoutes: FastifyPluginAsync<ApiContext> = async (f, ctx) => {
  for (const path of CLIENT_BUNDLE_PATHS) {
    f.get(path, async (_req, reply) => {
      const body = ctx.clientBundle ? ctx.clientBundle() : await readBundle();
      if (!body) {
        const err = apiError('NotFound', 'Client bundle not built: run `npm run build -w @herald/client` (expected packages/client/dist/push.js)');
        // `type` repeats the string code: the first bodies to carry it named it so.
        return reply.code(err.statusCode).send({ ...apiErrorBody(err), type: err.code });
      }
      // A public script any page may load (the REST API's answers, for servers only, carry no CORS header).
      return reply.type('application/javascript; charset=utf-8').header('Cache-Control', 'no-cache').header('Access-Control-Allow-Origin', '*').send(body);
    });
  }
};
