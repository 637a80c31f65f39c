/**
 * The dashboard's routes live in the URL's hash (`#/console?app=42`), so a reload or a bookmark
 * comes back to the same page and app while the gateway serves one index.html for everything.
 * Never put a token or a secret in here: the hash is kept in the history.
 */

const PAGES = ['overview', 'apps', 'channels', 'console', 'webhooks'] as const;
export type Page = (typeof PAGES)[number];

export interface Route {
  page: Page;
  /** Query parameters after `?`, such as `app` and `channel`. */
  query: Record<string, string>;
}

const isPage = (s: string): s is Page => (PAGES as readonly string[]).includes(s);

/** The route of a `location.hash`; an unknown or empty one is the overview. */
export function parseHash(hash: string): Route {
  const body = hash.replace(/^#\/?/, '');
  const q = body.indexOf('?');
  const path = (q === -1 ? body : body.slice(0, q)).replace(/\/+$/, '');
  const query: Record<string, string> = {};
  if (q !== -1) for (const [k, v] of new URLSearchParams(body.slice(q + 1))) query[k] = v;
  return { page: isPage(path) ? path : 'overview', query };
}

/** The hash of a route; empty query values are left out. */
export function formatHash(route: Route): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(route.query).sort(([a], [b]) => a.localeCompare(b))) if (v !== '') params.set(k, v);
  const qs = params.toString();
  return `#/${route.page}${qs ? `?${qs}` : ''}`;
}
