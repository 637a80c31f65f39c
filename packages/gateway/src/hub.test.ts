import { describe, expect, it } from 'vitest';
import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import { Hub } from './hub.js';
import { createMetrics } from './metrics.js';
import { Subscriptions, type SocketData } from './socket-data.js';

/** A socket as the hub uses it: its data, and the frames sent to it. */
function fakeSocket(socketId: string, watchlist: string[], appId = 'a1') {
  const sent: string[] = [];
  // As the sign-in handler leaves it: signed in as `me`, watching `watchlist`.
  const data = { socketId, status: 'open', app: { id: appId }, channels: new Subscriptions(), userId: 'me', watchlist } as unknown as SocketData;
  const ws = { getUserData: () => data, send: (frame: string) => (sent.push(frame), 1) } as unknown as WebSocket<SocketData>;
  data.ws = ws;
  return { ws, sent };
}

describe('Hub: watchlist online/offline', () => {
  it('applies each watched user transition once, in version order, and drops one older than the last applied', () => {
    const hub = new Hub({} as TemplatedApp, createMetrics({ nodeId: 'n', native: true }), []);
    const watcher = fakeSocket('1.1', ['u']);
    hub.add(watcher.ws);
    hub.addUser(watcher.ws, 'me', ['u']);
    const presence = (online: boolean, version: number, userId = 'u') => hub.control({ kind: 'user-presence', appId: 'a1', userId, online, version });
    const states = () => watcher.sent.map((f) => JSON.parse((JSON.parse(f) as { data: string }).data).events[0].name as string);

    presence(false, 100); // u went offline (decided at 100)
    presence(true, 90); // a sign-in decided earlier, arriving late: stale
    presence(true, 120); // u came back
    presence(false, 110); // stale again
    presence(true, 50, 'not-watched');
    expect(states()).toEqual(['offline', 'online']);

    // When nobody here watches u any more, its last version is forgotten with it.
    hub.remove(watcher.ws);
    const again = fakeSocket('1.2', ['u']);
    hub.add(again.ws);
    hub.addUser(again.ws, 'me', ['u']);
    hub.control({ kind: 'user-presence', appId: 'a1', userId: 'u', online: false, version: 10 });
    expect(again.sent).toHaveLength(1);
  });
});
