import { isValidChannelName, parsePosition } from '@herald/protocol';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { historyPolicy } from '../recovery.js';
import type { ApiContext } from './context.js';
import { apiError } from './errors.js';
import { authorizeRequest } from './signature-check.js';

const HISTORY_DEFAULT_LIMIT = 100;
const HISTORY_MAX_LIMIT = 1000;

/** One event of a history answer. */
interface HistoryEvent {
  event: string;
  data: string;
  position: string;
  user_id?: string;
  published_at: number;
}

// Parameters are read as the signature check read them, never through another parser.
function parseLimit(req: FastifyRequest): number {
  const raw = req.heraldParams.get('limit');
  if (raw === undefined || raw === '') return HISTORY_DEFAULT_LIMIT;
  const n = /^[0-9]{1,4}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= HISTORY_MAX_LIMIT)) throw apiError('InvalidParameter', `limit must be an integer from 1 to ${HISTORY_MAX_LIMIT}`);
  return n;
}

function parseDirection(req: FastifyRequest): 'forward' | 'backward' {
  const raw = req.heraldParams.get('direction');
  if (raw === undefined || raw === '' || raw === 'forward') return 'forward';
  if (raw === 'backward') return 'backward';
  throw apiError('InvalidParameter', 'direction must be forward (oldest first) or backward (newest first)');
}

/** The fields of a kept frame (a channel event as encode.ts writes it, with its position). */
function toEvent(frame: string, publishedAt: number): HistoryEvent {
  const f = JSON.parse(frame) as { event: string; data: string; user_id?: string; position: string };
  return { event: f.event, data: f.data, position: f.position, ...(f.user_id !== undefined ? { user_id: f.user_id } : {}), published_at: publishedAt };
}

/**
 * GET /apps/:appId/channels/:channelName/history: the channel's kept events (docs/reference/rest-api.md).
 * `since` of another epoch, or older than what is kept, is refused (PUSH_ERR_HISTORY_POSITION_LOST)
 * rather than answered with events that do not follow it: a pager must know it lost continuity.
 */
export const historyRoutes: FastifyPluginAsync<ApiContext> = async (f, ctx) => {
  f.get('/apps/:appId/channels/:channelName/history', async (req) => {
    await authorizeRequest(req, ctx);
    const app = req.heraldApp;
    const name: string = (req.params as { channelName: string }).channelName;
    if (!isValidChannelName(name)) throw apiError('InvalidParameter', `Invalid channel name: ${JSON.stringify(String(name).slice(0, 210))}`);
    const policy = historyPolicy(app, name);
    if (policy === undefined) throw apiError('HistoryOff', name.slice(0, 210));
    const limit = parseLimit(req);
    const direction = parseDirection(req);
    const sinceRaw = req.heraldParams.get('since');
    const since = sinceRaw === undefined || sinceRaw === '' ? undefined : parsePosition(sinceRaw);
    if (sinceRaw !== undefined && sinceRaw !== '' && since === undefined) throw apiError('InvalidParameter', 'since must be a position <epoch>:<offset>');
    const slice = await ctx.state.history.read(app.id, name, policy, {
      ...(since !== undefined ? { after: since.offset } : {}),
      limit,
      newest: direction === 'backward',
    });
    const current = `${slice.epoch}:${slice.offset}`;
    if (since !== undefined) {
      if (since.epoch !== slice.epoch) throw apiError('HistoryPositionLost', `since is of another epoch than the channel's (its position is now ${current})`);
      if (since.offset > slice.offset) throw apiError('InvalidParameter', `since is beyond the channel's latest event (${current})`);
      if (since.offset < slice.oldest - 1)
        throw apiError('HistoryPositionLost', `events after since are no longer kept (the oldest kept is ${slice.epoch}:${slice.oldest})`);
    }
    const events = slice.entries.map((e) => toEvent(e.frame, e.publishedAt));
    if (direction === 'backward') events.reverse();
    return { events, position: current };
  });
};
