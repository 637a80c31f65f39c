import { createHash, timingSafeEqual } from 'node:crypto';

/** What an `Authorization` header proves against the admin token. */
export type AdminAuth = 'ok' | 'missing' | 'invalid';

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * Checks `Authorization: Bearer <token>` against PUSH_ADMIN_TOKEN in constant time: both sides are
 * hashed first, so the comparison is over equal lengths and takes the same time whatever was sent
 * (neither the token's length nor a matching prefix leaks).
 */
export function createAdminAuth(token: string): (authorization: string | undefined) => AdminAuth {
  const expected = sha256(token);
  return (authorization) => {
    if (authorization === undefined || authorization === '') return 'missing';
    const m = /^Bearer +(\S+) *$/i.exec(authorization);
    if (m === null) return 'invalid';
    return timingSafeEqual(sha256(m[1]!), expected) ? 'ok' : 'invalid';
  };
}
