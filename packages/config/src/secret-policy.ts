import { ConfigError } from './config-error.js';

/** Shortest app secret accepted: 16 characters (64 bits of hex, or more). */
export const MIN_SECRET_LENGTH = 16;

/**
 * Secrets printed in this repository (`.env.example`, `deploy/`, the README's examples): public, so
 * a deployment started with one of them is signed with a key anyone can read. A test scans those
 * files and fails when one of their values is missing here.
 */
export const PLACEHOLDER_SECRETS: readonly string[] = ['change-me-to-a-long-random-secret', 'app-secret-at-least-16-chars'];

/**
 * Why `secret` cannot sign an app's requests, or undefined when it can. Anything containing
 * "change-me" / "changeme" counts as a placeholder too, whatever follows it.
 */
export function weakSecretReason(secret: string): string | undefined {
  const lower = secret.toLowerCase();
  if (PLACEHOLDER_SECRETS.includes(secret) || /change-?me/.test(lower)) {
    return 'is a placeholder printed in the Herald repository: generate one (openssl rand -hex 16)';
  }
  if (secret.length < MIN_SECRET_LENGTH) {
    return `is shorter than ${MIN_SECRET_LENGTH} characters: generate one (openssl rand -hex 16)`;
  }
  return undefined;
}

/** Throws ConfigError (PUSH_ERR_CONFIG) naming `where` when the secret is a placeholder or too short. */
export function assertStrongSecret(secret: string, where: string): void {
  const reason = weakSecretReason(secret);
  if (reason !== undefined) throw new ConfigError(`${where} ${reason}`);
}
