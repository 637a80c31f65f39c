/** Whether a WebSocket upgrade's Origin is allowed: no list allows all; `*.example.com` matches subdomains. */
export function originAllowed(allowed: readonly string[] | undefined, origin: string): boolean {
  if (allowed === undefined || allowed.length === 0) return true;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false;
  }
  return allowed.some((a) => {
    if (a === '*' || a === origin) return true;
    if (a.startsWith('*.')) return host.endsWith(a.slice(1)) && host.length > a.length - 1;
    return a === host;
  });
}
