import { describe, expect, it } from 'vitest';
import { readCookie, SessionSigner, sessionCookie } from './session.js';

const TOKEN = 'admin-token-0123456789abcdef';

describe('dashboard sessions', () => {
  it('verifies what it issued, on any gateway with the same token', () => {
    const s = new SessionSigner(TOKEN, 60).issue();
    const other = new SessionSigner(TOKEN, 60);
    expect(other.verify(s.value)).toEqual(s);
    expect(other.csrfMatches(s, s.csrf)).toBe(true);
  });

  it('refuses a cookie of another token, a changed one, a malformed one and an expired one', () => {
    let now = 1_000_000;
    const signer = new SessionSigner(TOKEN, 60, () => now);
    const s = signer.issue();
    expect(new SessionSigner(`${TOKEN}x`, 60).verify(s.value)).toBeUndefined();
    // A later expiry with the old MAC.
    const [v, exp, nonce, mac] = s.value.split('.');
    expect(signer.verify([v, String(Number(exp) + 1000), nonce, mac].join('.'))).toBeUndefined();
    const flipped = mac!.startsWith('A') ? `B${mac!.slice(1)}` : `A${mac!.slice(1)}`;
    expect(signer.verify([v, exp, nonce, flipped].join('.'))).toBeUndefined();
    for (const bad of [undefined, '', 'v1', 'x'.repeat(500), `${s.value}.x`]) expect(signer.verify(bad)).toBeUndefined();
    now += 59_999;
    expect(signer.verify(s.value)).toBeDefined();
    now += 1;
    expect(signer.verify(s.value)).toBeUndefined();
  });

  it('ties the CSRF value to the session', () => {
    const signer = new SessionSigner(TOKEN);
    const a = signer.issue();
    const b = signer.issue();
    expect(a.csrf).not.toBe(b.csrf);
    expect(signer.csrfMatches(a, b.csrf)).toBe(false);
    expect(signer.csrfMatches(a, undefined)).toBe(false);
    expect(signer.csrfMatches(a, '')).toBe(false);
  });

  it('reads its cookie among others and writes it HttpOnly, SameSite=Strict, scoped to /dashboard', () => {
    expect(readCookie('a=1; herald_dashboard=v1.x.y; b=2', 'herald_dashboard')).toBe('v1.x.y');
    expect(readCookie('a=1', 'herald_dashboard')).toBeUndefined();
    expect(readCookie(undefined, 'herald_dashboard')).toBeUndefined();
    const c = sessionCookie('v', 10, false);
    expect(c).toContain('HttpOnly');
    expect(c).toContain('SameSite=Strict');
    expect(c).toContain('Path=/dashboard');
    expect(c).not.toContain('Secure');
    expect(sessionCookie('v', 10, true)).toContain('; Secure');
  });
});
