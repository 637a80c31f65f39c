import { readFileSync } from 'node:fs';

/**
 * Herald's version, as node reports show it. Every package carries the release's version; this
 * one's package.json sits one level above both src/ (tests) and dist/ (production).
 */
export const HERALD_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
