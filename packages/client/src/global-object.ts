/**
 * The global object. `globalThis` is missing from older WebViews (Chrome < 71, Safari < 12.1) and
 * from some mini-program engines, which push.js's users still target.
 */
export function globalObject(): Record<string, unknown> {
  if (typeof globalThis !== 'undefined') return globalThis;
  if (typeof self !== 'undefined') return self as unknown as Record<string, unknown>;
  if (typeof window !== 'undefined') return window as unknown as Record<string, unknown>;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- sloppy-mode `this` is the global object, and nothing else reaches it here
  return (Function('return this') as () => Record<string, unknown>)();
}
