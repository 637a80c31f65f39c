import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join, resolve, sep } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { apiError, apiErrorBody } from '../errors.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'application/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
};

const require = createRequire(import.meta.url);

/**
 * The built pages' directory (packages/dashboard/dist, made by `npm run build` and at `npm install`),
 * found through the package like the client bundle; undefined while it is not built.
 */
export function dashboardFiles(): string | undefined {
  let dir: string;
  try {
    dir = join(dirname(require.resolve('@herald/dashboard/package.json')), 'dist');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return undefined;
    throw err;
  }
  return existsSync(join(dir, 'index.html')) ? dir : undefined;
}

/**
 * The pages load only what the gateway serves: no inline script, no other origin, never framed (a
 * framing page could trick a signed-in operator into clicks). Vue sets styles through the CSSOM,
 * which `style-src` does not govern; inline `<style>` is allowed for the bundle's own.
 */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/**
 * The built pages (packages/dashboard/dist, made by `npm run build`). `dist()` is asked per request,
 * so a build made after the start is served. Files are public: they hold no data, the API does.
 */
export function staticRoutes(f: FastifyInstance, dist: () => string | undefined): void {
  const send = async (reply: FastifyReply, relative: string) => {
    const root = dist();
    if (root === undefined) return notBuilt(reply);
    const file = resolve(root, relative);
    if (file !== root && !file.startsWith(root + sep)) return notFound(reply);
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EISDIR') return relative === 'index.html' ? notBuilt(reply) : notFound(reply);
      throw err;
    }
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    // Vite names assets by their content: a new build has new names, so they can be kept for good.
    const cache = relative.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    return reply
      .type(type)
      .header('cache-control', cache)
      .header('content-security-policy', CSP)
      .header('x-frame-options', 'DENY')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .send(body);
  };
  f.get('/dashboard', (_req, reply) => reply.redirect('/dashboard/', 302));
  f.get('/dashboard/', (_req, reply) => send(reply, 'index.html'));
  f.get('/dashboard/*', (req, reply) => {
    const rest = (req.params as { '*': string })['*'];
    if (rest.startsWith('api/') || rest === 'api') return notFound(reply);
    return send(reply, rest === '' ? 'index.html' : rest);
  });
}

function notFound(reply: FastifyReply) {
  const err = apiError('NotFound');
  return reply.code(err.statusCode).send(apiErrorBody(err));
}

function notBuilt(reply: FastifyReply) {
  const err = apiError('NotFound', 'Dashboard not built: run `npm run build` (expected packages/dashboard/dist/index.html)');
  return reply.code(err.statusCode).send(apiErrorBody(err));
}
