import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The session cookie's name; scoped to /dashboard by its Path. */
export const SESSION_COOKIE = 'herald_dashboard';

/** How long a dashboard session lasts unless configured (PUSH_DASHBOARD_SESSION_SECONDS). */
export const DEFAULT_SESSION_SECONDS = 12 * 3600;

export interface Session {
  /** The cookie's value. */
  value: string;
  expiresAt: number;
  /** What a state-changing request must send in X-Herald-CSRF. */
  csrf: string;
}

const b64url = (b: Buffer) => b.toString('base64url');

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Signed, stateless sessions: any gateway of the cluster verifies a cookie another one issued,
 * with nothing shared but PUSH_ADMIN_TOKEN. The key is derived from the token, so a new token ends
 * every session; the CSRF value is derived from the cookie, so a page of another origin (which
 * can make the browser send the cookie but cannot read it, nor any answer) cannot compute it.
 */
export class SessionSigner {
  readonly #key: Buffer;
  readonly #seconds: number;
  readonly #now: () => number;

  constructor(token: string, seconds = DEFAULT_SESSION_SECONDS, now: () => number = Date.now) {
    this.#key = createHmac('sha256', token).update('herald dashboard session v1').digest();
    this.#seconds = seconds;
    this.#now = now;
  }

  #mac(text: string): string {
    return b64url(createHmac('sha256', this.#key).update(text).digest());
  }

  issue(): Session {
    const expiresAt = this.#now() + this.#seconds * 1000;
    const body = `v1.${expiresAt}.${b64url(randomBytes(16))}`;
    const value = `${body}.${this.#mac(body)}`;
    return { value, expiresAt, csrf: this.#csrf(value) };
  }

  #csrf(value: string): string {
    return this.#mac(`csrf.${value}`);
  }

  /** The session a cookie value stands for; undefined when forged, malformed or expired. */
  verify(value: string | undefined): Session | undefined {
    if (value === undefined || value.length > 200) return undefined;
    const m = /^(v1\.(\d{1,15})\.[A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/.exec(value);
    if (m === null || !equal(this.#mac(m[1]!), m[3]!)) return undefined;
    const expiresAt = Number(m[2]);
    if (expiresAt <= this.#now()) return undefined;
    return { value, expiresAt, csrf: this.#csrf(value) };
  }

  csrfMatches(session: Session, sent: string | undefined): boolean {
    return sent !== undefined && equal(session.csrf, sent);
  }
}

/** Whether a sign-in form's token is the admin token, exactly (constant time). */
export function isAdminToken(sent: unknown, token: string): boolean {
  return (
    typeof sent === 'string' &&
    equal(createHmac('sha256', 'herald sign-in').update(sent).digest('hex'), createHmac('sha256', 'herald sign-in').update(token).digest('hex'))
  );
}

/** The value of one cookie of a Cookie header (the first one of that name). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** A Set-Cookie value: HttpOnly and SameSite=Strict always; Secure when the page came over HTTPS. */
export function sessionCookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
}
