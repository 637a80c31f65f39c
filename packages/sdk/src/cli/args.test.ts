import { describe, expect, it } from 'vitest';
import { DEFAULT_URL, parseInvocation, UsageError } from './args.js';

const ENV = { PUSH_ADMIN_TOKEN: 'env-token-0123456789abcdef' };
const parse = (...argv: string[]) => parseInvocation(argv, ENV);
const command = (...argv: string[]) => {
  const inv = parse(...argv);
  if (inv.help) throw new Error('expected a command');
  return inv.command;
};
const usage = (argv: string[], env: Record<string, string | undefined> = ENV): string => {
  try {
    parseInvocation(argv, env);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as UsageError).message;
  }
  throw new Error(`expected a usage error for ${argv.join(' ')}`);
};

describe('herald-apps command line', () => {
  it('takes the URL and token from the environment, flags first, and the default URL last', () => {
    expect(parse('list')).toEqual({ help: false, command: { name: 'list' }, url: DEFAULT_URL, token: ENV.PUSH_ADMIN_TOKEN, json: false });
    expect(parseInvocation(['list'], { ...ENV, HERALD_URL: 'http://h:1' })).toMatchObject({ url: 'http://h:1' });
    expect(parseInvocation(['list'], { ...ENV, HERALD_URL: '' })).toMatchObject({ url: DEFAULT_URL });
    expect(parseInvocation(['list', '--url', 'http://f:2', '--token', 'flag-token', '--json'], { ...ENV, HERALD_URL: 'http://h:1' })).toMatchObject({
      url: 'http://f:2',
      token: 'flag-token',
      json: true,
    });
    expect(usage(['list'], {})).toMatch(/PUSH_ADMIN_TOKEN/);
    expect(usage(['list'], { PUSH_ADMIN_TOKEN: '' })).toMatch(/PUSH_ADMIN_TOKEN/);
  });

  it('answers --help anywhere, without a token', () => {
    expect(parseInvocation(['--help'], {})).toEqual({ help: true });
    expect(parseInvocation(['update', 'x', '-h'], {})).toEqual({ help: true });
  });

  it('reads --set values as JSON when they parse, else as text', () => {
    expect(
      command(
        'create',
        '--set',
        'maxConnections=5',
        '--set',
        'clientEvents=false',
        '--set',
        'allowedOrigins=["https://a"]',
        '--set',
        'note=a=b',
        '--set',
        'id=007',
        '--set',
        'name=plain text',
      ),
    ).toEqual({
      name: 'create',
      fields: { maxConnections: 5, clientEvents: false, allowedOrigins: ['https://a'], note: 'a=b', id: '007', name: 'plain text' },
    });
    expect(command('create', '--set', 'webhooks=[{"url":"https://h/x","events":["member_added"]}]')).toEqual({
      name: 'create',
      fields: { webhooks: [{ url: 'https://h/x', events: ['member_added'] }] },
    });
  });

  it('builds a creation from --id, --key, --secret and --webhook', () => {
    expect(command('create')).toEqual({ name: 'create', fields: {} });
    expect(command('create', '--id', '12', '--key', 'k', '--secret', 's', '--webhook', 'https://a/1', '--webhook', 'https://b/2')).toEqual({
      name: 'create',
      fields: { id: '12', key: 'k', secret: 's', webhooks: [{ url: 'https://a/1' }, { url: 'https://b/2' }] },
    });
  });

  it('builds a change from --set, --unset, --webhook and --if-match', () => {
    expect(command('update', 'shop', '--set', 'maxConnections=5', '--unset', 'allowedOrigins', '--if-match', '3')).toEqual({
      name: 'update',
      id: 'shop',
      patch: { maxConnections: 5, allowedOrigins: null },
      ifMatch: 3,
    });
    expect(command('update', 'shop', '--webhook', 'https://a/1')).toEqual({ name: 'update', id: 'shop', patch: { webhooks: [{ url: 'https://a/1' }] } });
  });

  it('reads the other commands and their numbers', () => {
    expect(command('show', 'a')).toEqual({ name: 'show', id: 'a' });
    expect(command('disable', 'a', '--if-match', '2')).toEqual({ name: 'disable', id: 'a', ifMatch: 2 });
    expect(command('enable', 'a')).toEqual({ name: 'enable', id: 'a' });
    expect(command('delete', 'a', '--yes')).toEqual({ name: 'delete', id: 'a' });
    expect(command('rotate-secret', 'a', '--grace-seconds', '0', '--secret', 'new-secret')).toEqual({
      name: 'rotate-secret',
      id: 'a',
      graceSeconds: 0,
      secret: 'new-secret',
    });
    expect(command('audit', '--limit', '20', '--before', '41')).toEqual({ name: 'audit', limit: 20, before: 41 });
  });

  it('refuses what a person must fix, naming it', () => {
    expect(usage([])).toMatch(/command is required/);
    expect(usage(['frobnicate'])).toMatch(/unknown command "frobnicate"/);
    expect(usage(['list', '--nope'])).toMatch(/--nope/);
    expect(usage(['list', '--set', 'a=1'])).toMatch(/list does not take --set/);
    expect(usage(['show'])).toMatch(/show needs an app id/);
    expect(usage(['show', 'a', 'b'])).toMatch(/unexpected argument "b"/);
    expect(usage(['list', 'extra'])).toMatch(/unexpected argument "extra"/);
    expect(usage(['delete', 'a'])).toMatch(/--yes/);
    expect(usage(['update', 'a'])).toMatch(/at least one --set, --unset or --webhook/);
    expect(usage(['update', 'a', '--set', 'novalue'])).toMatch(/field=value/);
    expect(usage(['update', 'a', '--set', '=5'])).toMatch(/field=value/);
    expect(usage(['update', 'a', '--set', 'x=1', '--unset', 'x'])).toMatch(/x is given twice/);
    expect(usage(['update', 'a', '--set', 'webhooks=[]', '--webhook', 'https://h'])).toMatch(/webhooks is given twice/);
    expect(usage(['create', '--id', 'a', '--set', 'id=b'])).toMatch(/id is given twice/);
    for (const n of ['abc', '-1', '0', '1.5', '99999999999999999999']) expect(usage(['disable', 'a', '--if-match', n])).toMatch(/--if-match/);
    expect(usage(['rotate-secret', 'a', '--grace-seconds', 'soon'])).toMatch(/--grace-seconds/);
    expect(usage(['audit', '--limit', '0'])).toMatch(/--limit/);
    expect(usage(['audit', '--url'])).toMatch(/--url/);
  });
});
