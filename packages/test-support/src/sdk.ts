import Pusher from 'pusher';
import type { NodeHandle, TestApp } from './node-process.js';

/**
 * The official SDK pointed at one node's (or in-process gateway's) API port; `options` adds to it,
 * e.g. `encryptionMasterKeyBase64` to authorize and trigger on private-encrypted- channels.
 */
export const sdkFor = (app: Pick<TestApp, 'id' | 'key' | 'secret'>, node: Pick<NodeHandle, 'apiPort'>, options: Partial<Pusher.Options> = {}) =>
  new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(node.apiPort), useTLS: false, ...options });
