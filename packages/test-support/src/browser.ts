import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium, headless, with everything that phones home switched off. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'application/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

export interface WebServer extends AsyncDisposable {
  origin: string;
  /** Serves `html` at a fresh path and returns its URL. */
  page(html: string): string;
  /** Serves the files of `dir` under `/<prefix>/`; returns the base URL. */
  mount(prefix: string, dir: string): string;
  close(): Promise<void>;
}

/** A plain node:http server for the test pages (the app's origin, distinct from the gateway's). */
export async function startWebServer(): Promise<WebServer> {
  const pages = new Map<string, string>();
  const mounts = new Map<string, string>();
  let n = 0;
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const html = pages.get(path);
    if (html !== undefined) {
      res.setHeader('Content-Type', TYPES['.html']!);
      res.end(html);
      return;
    }
    const [, prefix, ...rest] = path.split('/');
    const dir = mounts.get(prefix ?? '');
    if (dir === undefined) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    const file = normalize(join(dir, rest.join('/') || 'index.html'));
    if (!file.startsWith(dir)) {
      res.statusCode = 403;
      res.end();
      return;
    }
    readFile(file).then(
      (body) => {
        res.setHeader('Content-Type', TYPES[extname(file)] ?? 'application/octet-stream');
        res.end(body);
      },
      () => {
        res.statusCode = 404;
        res.end('not found');
      },
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return {
    origin,
    page(html) {
      const path = `/page-${++n}.html`;
      pages.set(path, html);
      return origin + path;
    },
    mount(prefix, dir) {
      mounts.set(prefix, normalize(dir));
      return `${origin}/${prefix}/`;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Uncaught page errors and console errors, for assertions and for failure messages. */
export function watchPage(page: Page): { pageErrors: string[]; console: string[] } {
  const out = { pageErrors: [] as string[], console: [] as string[] };
  page.on('pageerror', (err) => out.pageErrors.push(String(err)));
  page.on('console', (msg) => out.console.push(`${msg.type()}: ${msg.text()}`));
  return out;
}
