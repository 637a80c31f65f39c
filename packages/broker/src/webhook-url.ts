/**
 * A webhook target URL without its userinfo (`user:pass@`): the form that is stored and shown (dead
 * letters, replayed outbox entries) and the one stored entries are matched to targets by, so the
 * credentials live in the app config only. A string that does not parse as a URL loses anything up
 * to an `@` in its authority, since it may still hold credentials.
 */
export function withoutUserinfo(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.href;
  } catch {
    return url.replace(/^([^:/?#]+:\/\/)[^/?#]*@/, '$1');
  }
}
