import type Pusher from 'pusher';
import type { RawClient } from './raw-client.js';

let markers = 0;

/**
 * Triggers a uniquely named event on `channel` through the REST API and waits until every client has
 * it. Publications are ordered per channel, so whatever was published there before has arrived by
 * then: "nothing else arrived" is checked after a marker instead of after a sleep. Returns the name.
 */
export async function marker(t: { sdk: Pusher }, channel: string, clients: RawClient[], sdk: Pusher = t.sdk): Promise<string> {
  const name = `marker-${++markers}`;
  await sdk.trigger(channel, name, { m: markers });
  for (const c of clients) await c.waitFor((f) => f.event === name && f.channel === channel);
  return name;
}
