import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ApiContext } from './context.js';
import { apiError } from './errors.js';
import { authorizeRequest } from './signature-check.js';

/**
 * POST /apps/:appId/users/:userId/terminate_connections closes every connection signed in as the
 * user, on every node. Also at /users/:userId/terminate_connections, where pusher-http-python 3.3
 * sends it (the app is then found by auth_key).
 */
export const usersRoutes: FastifyPluginAsync<ApiContext> = async (f, ctx) => {
  const terminate = async (req: FastifyRequest) => {
    await authorizeRequest(req, ctx);
    const userId = (req.params as { userId: string }).userId;
    if (userId.length === 0 || userId.length > 200) throw apiError('InvalidParameter', 'Invalid user id');
    await ctx.state.broker.publishControl(
      { kind: 'terminate-user', appId: req.heraldApp.id, userId },
      ctx.publishWaitMs !== undefined ? { waitMs: ctx.publishWaitMs } : {},
    );
    return {};
  };
  f.post('/apps/:appId/users/:userId/terminate_connections', terminate);
  f.post('/users/:userId/terminate_connections', terminate);
};
