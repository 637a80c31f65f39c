import { createUniPlatform, type UniApi, type UniRequestTask, type UniSocketTask } from './platform-uniapp.js';
import { PushCore, type PushOptions } from './push.js';

/**
 * The uni-app client (webman's push-uniapp.js): sockets through `uni.connectSocket` (one
 * `SocketTask` per client), auth through `uni.request`, reconnects on `uni.onNetworkStatusChange`;
 * long polling through `uni.request` when the socket cannot be opened.
 */
export default class Push extends PushCore {
  constructor(options: PushOptions) {
    super(options, options?.platform ?? createUniPlatform());
  }
}

export { Push, createUniPlatform };
export type { UniApi, UniRequestTask, UniSocketTask };
export * from './types.js';
