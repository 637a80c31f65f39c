import fc from 'fast-check';

/** The observer's channels, which fuzzed frames aim at. */
export const OBS_PUBLIC = 'obs-public';
export const OBS_PRIVATE = 'private-obs';
export const OBS_PRESENCE = 'presence-obs';
export const OBS_ENCRYPTED = 'private-encrypted-obs';

export interface FuzzFrame {
  kind: string;
  payload: Buffer | string;
  binary: boolean;
}

/** One client frame of the fuzz: text or binary, with the kind of garbage it is. */
export function frameArbitrary(key: string): fc.Arbitrary<FuzzFrame> {
  const targets = fc.constantFrom(
    OBS_PUBLIC,
    OBS_PRIVATE,
    OBS_PRESENCE,
    OBS_ENCRYPTED,
    '#server-to-user-obs',
    'presence-obs-2',
    'pub-x',
    'private-x',
    'cache-x',
    '',
    'a b',
    'x'.repeat(201),
  );
  const json = fc.jsonValue({ maxDepth: 4 });
  const auth = fc.oneof(
    fc.constantFrom('', key, `${key}:`, `${key}:${'0'.repeat(64)}`, ':', `${key}:${'a'.repeat(64)}:x`),
    fc.string({ unit: fc.constantFrom(...'0123456789abcdef'.split('')), minLength: 64, maxLength: 64 }).map((h) => `${key}:${h}`),
    json,
  );
  const shaped = fc
    .record(
      {
        event: fc.oneof(
          {
            weight: 5,
            arbitrary: fc.constantFrom(
              'pusher:subscribe',
              'pusher:unsubscribe',
              'pusher:signin',
              'pusher:ping',
              'client-x',
              'client-typing',
              'pusher_internal:member_added',
              'pusher:error',
            ),
          },
          fc.string({ maxLength: 20 }),
          json,
        ),
        data: fc.oneof(
          fc.record(
            {
              channel: fc.oneof(targets, json),
              auth,
              channel_data: fc.oneof(
                json.map((v) => JSON.stringify(v)),
                fc.constant('{"user_id":"obs"}'),
                json,
              ),
              user_data: fc.oneof(fc.constant('{"id":"obs"}'), json),
            },
            { requiredKeys: [] },
          ),
          json,
        ),
        channel: fc.oneof(targets, json),
      },
      { requiredKeys: [] },
    )
    .map((o) => JSON.stringify(o));
  const text = (p: fc.Arbitrary<string>, kind: string) => p.map((payload): FuzzFrame => ({ kind, payload, binary: false }));
  return fc.oneof(
    { weight: 6, arbitrary: text(shaped, 'shaped') },
    {
      weight: 2,
      arbitrary: text(
        fc.tuple(shaped, fc.nat()).map(([s, n]) => s.slice(0, n % (s.length + 1))),
        'truncated',
      ),
    },
    { weight: 2, arbitrary: text(fc.string({ unit: 'grapheme', maxLength: 300 }), 'unicode') },
    {
      weight: 1,
      arbitrary: text(
        fc.string({ unit: 'binary', maxLength: 300 }).filter((s) => (s as string & { isWellFormed(): boolean }).isWellFormed()),
        'code points',
      ),
    },
    {
      weight: 1,
      arbitrary: text(
        fc.constantFrom('1e999999', '-1e999999', '123456789012345678901234567890', '{"event":1e999}', '{"event":"pusher:subscribe","data":{"channel":1e400}}'),
        'huge numbers',
      ),
    },
    {
      weight: 1,
      arbitrary: text(
        fc.tuple(fc.integer({ min: 1, max: 30_000 }), fc.constantFrom('[', '{"a":', '{"event":"client-x","channel":"private-obs","data":')).map(([d, open]) => {
          const inner = open === '[' ? '' : '1';
          const close = open === '[' ? ']' : '}';
          const depth = Math.min(d, Math.floor(60_000 / (open.length + 1)));
          return open.repeat(depth) + inner + close.repeat(depth);
        }),
        'deeply nested',
      ),
    },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b): FuzzFrame => ({ kind: 'binary', payload: Buffer.from(b), binary: true })) },
    // Random bytes as a text frame: mostly invalid UTF-8, which closes that socket (1007).
    {
      weight: 1,
      arbitrary: fc.uint8Array({ minLength: 1, maxLength: 100 }).map((b): FuzzFrame => ({ kind: 'bytes as text', payload: Buffer.from(b), binary: false })),
    },
    {
      weight: 1,
      arbitrary: fc.constant<FuzzFrame>({
        kind: 'oversized',
        payload: JSON.stringify({ event: 'client-x', channel: OBS_PRIVATE, data: 'y'.repeat(70 * 1024) }),
        binary: false,
      }),
    },
  );
}
