import { createUniPlatform, type UniApi, type UniSocketTask } from './platform-uniapp.js';
import { PushCore, type PushOptions } from './push.js';

/**
 * The uni-app client (webman's push-uniapp.js): sockets through `uni.connectSocket` (one
 * `SocketTask` per client), auth through `uni.request`, reconnects on `uni.onNetworkStatusChange`.
 */
export default class Push extends PushCore {
  constructor(options: PushOptions) {
    super(options, options?.platform ?? createUniPlatform());
  }
}

export { Push, createUniPlatform };
export type { UniApi, UniSocketTask };
export * from './types.js';
