import { createRequire } from 'node:module';
import type * as Uws from 'uWebSockets.js';

export type UwsModule = typeof Uws;

/** uWebSockets.js is loaded through require: the package is CommonJS with a native binary. */
const require = createRequire(import.meta.url);

export class UwsFallbackError extends Error {
  override readonly name = 'UwsFallbackError';
  readonly code = 'PUSH_ERR_UWS_FALLBACK';
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
    throw new UwsFallbackError(
      'uWebSockets.js native binary did not load (pure-JS fallback in use); this platform needs Linux/macOS x64/arm64 with Node 18 or 20. Set PUSH_ALLOW_UWS_FALLBACK=1 to run slowly anyway.',
    );
  }
  return { uws, native };
}
