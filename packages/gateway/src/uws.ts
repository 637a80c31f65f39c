import { createRequire } from 'node:module';
import { StartupError } from '@herald/config';
import type * as Uws from 'uWebSockets.js';

export type UwsModule = typeof Uws;

/** uWebSockets.js is loaded through require: the package is CommonJS with a native binary. */
const require = createRequire(import.meta.url);

/** The native binary did not load and the slow fallback was not allowed. */
export class UwsFallbackError extends StartupError<'UwsFallback'> {
  override readonly name = 'UwsFallbackError';
  constructor() {
    super('UwsFallback');
  }
}

/**
 * Loads uWebSockets.js and tells whether the native binary is in use. The npm build we depend on
 * silently falls back to a slow pure-JS server when the binary does not load; the native module is
 * recognised by exports only it has (`getParts`, `SHARED_COMPRESSOR`). Refuses the fallback unless
 * `allowFallback` is set (PUSH_ALLOW_UWS_FALLBACK=1).
 */
export function loadUws(allowFallback: boolean): { uws: UwsModule; native: boolean } {
  const uws = require('uWebSockets.js') as UwsModule & Record<string, unknown>;
  const native = typeof uws.getParts === 'function' && uws.SHARED_COMPRESSOR !== undefined;
  if (!native && !allowFallback) {
    throw new UwsFallbackError();
  }
  return { uws, native };
}
