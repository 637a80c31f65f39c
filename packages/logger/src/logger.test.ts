import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, destination };
}

describe('createLogger', () => {
  it('binds the service and the node id to every line', () => {
    const { lines, destination } = capture();
    createLogger('webhook-worker', { level: 'info', nodeId: 'worker-1', destination }).child({ component: 'http' }).info('listening');
    expect(lines).toEqual([expect.objectContaining({ service: 'webhook-worker', nodeId: 'worker-1', component: 'http', msg: 'listening' })]);
  });

  it('redacts secrets, the admin token, auth signatures, the Authorization header and channel_data', () => {
    const { lines, destination } = capture();
    const log = createLogger('gateway', { level: 'info', nodeId: 'n1', destination });
    const secret = 'app-secret-0123456789';
    log.info(
      {
        secret,
        app: { id: 'a1', secret },
        apps: [{ id: 'a1', secret }],
        adminToken: 'admin-token-0123456789',
        cfg: { adminToken: 'admin-token-0123456789' },
        auth: 'key:signature',
        frame: { auth: 'key:signature', channel_data: '{"user_id":"u1"}' },
        channel_data: '{"user_id":"u1"}',
        req: { headers: { authorization: 'Bearer admin-token-0123456789' } },
      },
      'everything sensitive',
    );
    const text = JSON.stringify(lines);
    for (const value of [secret, 'admin-token-0123456789', 'key:signature', 'user_id']) expect(text).not.toContain(value);
    expect(lines[0]).toMatchObject({
      secret: '[redacted]',
      app: { id: 'a1', secret: '[redacted]' },
      apps: [{ id: 'a1', secret: '[redacted]' }],
      adminToken: '[redacted]',
      cfg: { adminToken: '[redacted]' },
      auth: '[redacted]',
      frame: { auth: '[redacted]', channel_data: '[redacted]' },
      channel_data: '[redacted]',
      req: { headers: { authorization: '[redacted]' } },
    });
  });

  it('writes nothing below its level', () => {
    const { lines, destination } = capture();
    createLogger('gateway', { level: 'warn', nodeId: 'n1', destination }).info('quiet');
    expect(lines).toEqual([]);
  });
});
