import { createBrowserPlatform } from './platform-browser.js';
import { PushCore, type PushOptions } from './push.js';

/**
 * The browser client, a drop-in for webman/push's push.js:
 * `new Push({ url: 'ws://127.0.0.1:3131', app_key, auth: '/plugin/webman/push/auth' })`.
 */
export class Push extends PushCore {
  constructor(options: PushOptions) {
    super(options, options?.platform ?? createBrowserPlatform());
  }
}

/** @alias the default export as well, for `import Push from '@herald/client'` */
export default Push;
export { createBrowserPlatform };
export * from './types.js';
