import { WEBHOOK_LOG_MAX, type WebhookDeliveryRecord } from '@herald/broker';
import { describe, expect, it } from 'vitest';
import { MemoryWebhookLog } from './memory-webhook-log.js';
import type { WebhookApp, WebhookBatch } from './types.js';

const app = (id: string): WebhookApp => ({ id, key: 'k', secret: 's', webhooks: [] });
const batch = (id: string): WebhookBatch => ({ id, timeMs: 0, events: [{ name: 'channel_occupied', channel: id }] });
const target = { url: 'http://user:pw@example.test/hooks' };
const record = (appId: string, n: number): WebhookDeliveryRecord => ({
  id: `b${n}`,
  appId,
  url: 'http://user:pw@example.test/hooks',
  events: ['channel_occupied'],
  status: 200,
  latencyMs: 1,
  attempt: 1,
  outcome: 'delivered',
  at: n,
});

describe('MemoryWebhookLog', () => {
  it('keeps the newest WEBHOOK_LOG_MAX records per app, newest first, without credentials', async () => {
    const log = new MemoryWebhookLog({ redeliver: () => true });
    for (let n = 0; n < WEBHOOK_LOG_MAX + 3; n++) log.record(record('a', n));
    log.record(record('b', 1));
    const got = await log.deliveries('a', 1000);
    expect(got).toHaveLength(WEBHOOK_LOG_MAX);
    expect(got[0]).toMatchObject({ id: `b${WEBHOOK_LOG_MAX + 2}`, url: 'http://example.test/hooks' });
    expect((await log.deliveries('a', 2)).map((r) => r.at)).toEqual([WEBHOOK_LOG_MAX + 2, WEBHOOK_LOG_MAX + 1]);
    expect(await log.deliveries('a', Number.NaN)).toEqual([]);
    expect(await log.deliveries('b', 10)).toHaveLength(1);
  });

  it('keeps the newest dead letters up to its cap; replays in order until one is refused, which stays with the rest', async () => {
    let room = 1;
    const sent: string[] = [];
    const log = new MemoryWebhookLog({
      maxDeadLetters: 3,
      redeliver: (appId, url, b) => (room-- > 0 ? (sent.push(`${appId} ${url} ${b.id}`), true) : false),
    });
    for (const id of ['d0', 'd1', 'd2', 'd3']) log.deadLetter(batch(id), target, new Error('receiver answered 500'), app('a'));
    log.deadLetter(batch('x1'), target, new Error('receiver answered 500'), app('b'));
    expect((await log.deadLetters('a', 10)).map((d) => d.id)).toEqual(['d2', 'd3']);
    expect(log.deadLetterCount).toBe(3);
    expect((await log.deadLetters('a', 10))[0]!.target).toBe('http://example.test/hooks');

    expect(await log.replay('a', ['x1'])).toEqual({ replayed: 0, refused: 0 });
    expect(await log.replay('a', ['d2', 'd3', 'nope'])).toEqual({ replayed: 1, refused: 1 });
    expect(sent).toEqual(['a http://example.test/hooks d2']);
    expect((await log.deadLetters('a', 10)).map((d) => d.id)).toEqual(['d3']);

    expect(await log.drop('b', ['d3'])).toBe(0);
    expect(await log.drop('a', ['d3', 'x1'])).toBe(1);
    expect((await log.deadLetters('b', 10)).map((d) => d.id)).toEqual(['x1']);
  });
});
