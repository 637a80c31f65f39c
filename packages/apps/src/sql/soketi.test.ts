import { describe, expect, it } from 'vitest';
import { documentFromSoketiRow } from './soketi.js';

const SECRET = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const base = { id: 'app-1', key: 'key-1', secret: SECRET, enabled: 1, enable_client_messages: 0 };

const mapped = (row: Record<string, unknown>) => {
  const m = documentFromSoketiRow({ ...base, ...row });
  if (!m.ok) throw new Error(`row did not map: ${JSON.stringify(m.issues)}`);
  return m.doc;
};

describe('documentFromSoketiRow', () => {
  it('reads NULL, empty, -1 and 0 limits as not set, and positive ones as they are (kB in bytes)', () => {
    for (const unset of [null, undefined, '', -1, '-1', 0]) {
      const doc = mapped({ max_connections: unset, max_client_events_per_sec: unset, max_event_payload_in_kb: unset, max_presence_member_size_in_kb: unset });
      expect(doc).not.toHaveProperty('maxConnections');
      expect(doc).not.toHaveProperty('maxClientEventsPerSecond');
      expect(doc).not.toHaveProperty('maxEventPayloadBytes');
      expect(doc).not.toHaveProperty('maxPresenceUserInfoBytes');
    }
    // BIGINT and DECIMAL columns come back as text.
    expect(mapped({ max_connections: '250', max_event_payload_in_kb: 8, max_presence_member_size_in_kb: '0.5', max_event_batch_size: 4 })).toMatchObject({
      maxConnections: 250,
      maxEventPayloadBytes: 8192,
      maxPresenceUserInfoBytes: 512,
      maxBatchSize: 4,
    });
  });

  it("sums soketi's two REST budgets into Herald's one, and leaves it unlimited when either is", () => {
    expect(mapped({ max_backend_events_per_sec: 40, max_read_req_per_sec: 10 }).maxApiRequestsPerSecond).toBe(50);
    expect(mapped({ max_backend_events_per_sec: 40, max_read_req_per_sec: -1 })).not.toHaveProperty('maxApiRequestsPerSecond');
    expect(mapped({ max_backend_events_per_sec: null, max_read_req_per_sec: 10 })).not.toHaveProperty('maxApiRequestsPerSecond');
  });

  it("reads flags as 0/1, booleans or text, with soketi's defaults for NULL", () => {
    expect(mapped({ enabled: 0, enable_client_messages: 1 })).toMatchObject({ enabled: false, clientEvents: true });
    expect(mapped({ enabled: true, enable_client_messages: 'true' })).toMatchObject({ enabled: true, clientEvents: true });
    expect(mapped({ enabled: '0', enable_client_messages: 'FALSE' })).toMatchObject({ enabled: false, clientEvents: false });
    expect(mapped({ enabled: null, enable_client_messages: null })).toMatchObject({ enabled: true, clientEvents: false });
  });

  it('maps webhooks given as JSON text or parsed, dropping the suffix filter', () => {
    const hooks = [
      {
        url: 'https://h.example.com/1',
        event_types: ['member_added'],
        filter: { channel_name_starts_with: 'presence-', channel_name_ends_with: '-x' },
        headers: { A: 'b' },
      },
      { url: 'https://h.example.com/2', filter: { channel_name_starts_with: '' } },
    ];
    const expected = [
      { url: 'https://h.example.com/1', events: ['member_added'], channel_prefix: 'presence-', headers: { A: 'b' } },
      { url: 'https://h.example.com/2' },
    ];
    expect(mapped({ webhooks: JSON.stringify(hooks) }).webhooks).toEqual(expected);
    expect(mapped({ webhooks: hooks }).webhooks).toEqual(expected);
    expect(mapped({ webhooks: null }).webhooks).toEqual([]);
  });

  it('reports a row that does not map or does not validate, naming the field', () => {
    expect(documentFromSoketiRow({ ...base, webhooks: '[{' })).toEqual({ ok: false, id: 'app-1', issues: [{ field: 'webhooks', message: 'not valid JSON' }] });
    expect(documentFromSoketiRow({ ...base, max_connections: 'many' })).toEqual({
      ok: false,
      id: 'app-1',
      issues: [{ field: 'max_connections', message: 'not a number' }],
    });
    expect(documentFromSoketiRow({ ...base, enabled: 'yes' })).toMatchObject({ ok: false, issues: [{ field: 'enabled' }] });
    expect(documentFromSoketiRow({ ...base, secret: 'app-secret' })).toMatchObject({ ok: false, issues: [{ field: 'secret' }] });
    expect(documentFromSoketiRow({ ...base, webhooks: [{ lambda_function: 'f', event_types: ['client_event'] }] })).toMatchObject({
      ok: false,
      issues: [{ field: 'webhooks.0.url' }],
    });
    expect(documentFromSoketiRow({ ...base, id: 42, webhooks: [{ url: 'https://h.example.com', event_types: ['nope'] }] })).toMatchObject({
      ok: false,
      id: '42',
      issues: [{ field: 'webhooks.0.events.0' }],
    });
  });
});
