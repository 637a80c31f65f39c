import { randomBytes } from 'node:crypto';
import { validateAppDocument, type AppDocument } from '@herald/config';
import type { AuditAction, AuditInput } from '@herald/apps';

/** An id no other test uses: store tests share one backing database per run. */
export const uniqueId = (prefix = 'app') => `${prefix}-${randomBytes(5).toString('hex')}`;

export const newSecret = () => randomBytes(16).toString('hex');

/** A valid document with its defaults filled in, as the admin API hands it to a store. */
export function appDocument(id: string, fields: Record<string, unknown> = {}): AppDocument {
  const check = validateAppDocument({ id, key: `key-${id}`, secret: newSecret(), ...fields });
  if (!check.ok) throw new Error(`test document ${id} is invalid: ${JSON.stringify(check.issues)}`);
  return check.doc;
}

/** A document with every optional field set, for round trips. */
export function fullDocument(id: string): AppDocument {
  return appDocument(id, {
    enabled: false,
    clientEvents: false,
    subscriptionCountEvents: true,
    cacheTtlSeconds: 60,
    allowedOrigins: ['https://example.com', '*.example.org'],
    webhooks: [
      {
        url: 'https://hooks.example.com/a',
        events: ['channel_occupied', 'member_added'],
        channel_prefix: 'private-',
        format: 'webman',
        headers: { 'X-Token': 't' },
      },
      { url: 'http://127.0.0.1:9/b' },
    ],
    previousSecrets: [{ secret: newSecret(), expiresAt: 1_900_000_000_000 }],
    maxChannelNameLength: 150,
    maxEventNameLength: 120,
    maxEventPayloadBytes: 20_480,
    maxChannelsPerConnection: 50,
    maxChannelsPerTrigger: 20,
    maxBatchSize: 5,
    maxPresenceMembers: 40,
    maxPresenceUserInfoBytes: 512,
    maxPresenceUserIdLength: 64,
    maxClientEventsPerSecond: 0,
    maxConnections: 1000,
    maxApiRequestsPerSecond: 25,
    // Text a careless encoder would mangle: quotes, a backslash, non-ASCII, an emoji.
    key: `key-${id}-"q"\\é😀`,
  });
}

export const auditInput = (action: AuditAction, appId: string, changes: Record<string, unknown> = {}): AuditInput => ({
  action,
  appId,
  actor: '203.0.113.7',
  changes,
});
