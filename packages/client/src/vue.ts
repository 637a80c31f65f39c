import { getCurrentScope, onScopeDispose, readonly, shallowRef, type Ref } from 'vue';
import type { Channel } from './channel.js';
import type { ConnectionState, StateChange } from './connection.js';
import type { Listener } from './emitter.js';
import { Push } from './index.js';
import type { PushOptions } from './push.js';

/**
 * Vue 3 helpers around the browser `Push` (webman's push-vue.js exported only `Push`). Every
 * composable undoes what it did when the calling component unmounts (or its effect scope stops).
 */
export { Push };
export default Push;
export * from './types.js';

const onDispose = (fn: () => void) => {
  if (getCurrentScope()) onScopeDispose(fn);
};

/** A client for this component: `new Push(options)`, disconnected on unmount. */
export function usePush(options: PushOptions): Push {
  const push = new Push(options);
  onDispose(() => push.disconnect());
  return push;
}

/** The connection state as a read-only ref (`'connecting'`, `'connected'`, …). */
export function useConnectionState(push: Push): Readonly<Ref<ConnectionState>> {
  const state = shallowRef<ConnectionState>(push.connection.state);
  const update = ({ current }: StateChange) => {
    state.value = current;
  };
  push.connection.on('state_change', update);
  onDispose(() => push.connection.off('state_change', update));
  return readonly(state);
}

/** Components using each channel, so one unmounting does not unsubscribe another's channel. */
const users = new WeakMap<Push, Map<string, number>>();

/**
 * Subscribes to `name` and binds `handlers` (`{ message: (data) => … }`). On unmount the
 * handlers are unbound, and the channel is unsubscribed once no other `useChannel` uses it.
 */
export function useChannel(push: Push, name: string, handlers: Record<string, Listener> = {}): Channel {
  const channel = push.subscribe(name);
  for (const [event, fn] of Object.entries(handlers)) channel.on(event, fn);
  const counts = users.get(push) ?? new Map<string, number>();
  users.set(push, counts);
  counts.set(name, (counts.get(name) ?? 0) + 1);
  onDispose(() => {
    for (const [event, fn] of Object.entries(handlers)) channel.off(event, fn);
    const left = (counts.get(name) ?? 1) - 1;
    if (left > 0) return void counts.set(name, left);
    counts.delete(name);
    if (push.channel(name) === channel) push.unsubscribe(name);
  });
  return channel;
}

/** Binds one event listener on a channel for the component's lifetime. */
export function useEvent(channel: Channel, event: string, fn: Listener): void {
  channel.on(event, fn);
  onDispose(() => channel.off(event, fn));
}
