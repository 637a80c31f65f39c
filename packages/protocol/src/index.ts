export {
  PusherErrorCode,
  PusherError,
  SubscriptionError,
  SubscriptionErrorType,
  appNotFound,
  appDisabled,
  overConnectionQuota,
  pathNotFound,
  unsupportedProtocol,
  invalidJson,
  reconnectNow,
  pongTimeout,
  overCapacity,
  clientEventRateLimited,
  toPusherError,
  pusherError,
  PUSHER_ERRORS,
} from './errors.js';
export type { PusherErrorName } from './errors.js';
export { PusherEvent, CLIENT_EVENT_PREFIX, PUSHER_PREFIX, PUSHER_INTERNAL_PREFIX } from './events.js';
export type { ChannelKind } from './channel.js';
export {
  channelKind,
  isPresenceChannel,
  isValidChannelName,
  isValidEventName,
  isValidSocketId,
  userChannelName,
  userIdOfChannel,
  USER_CHANNEL_PREFIX,
} from './channel.js';
export type { AppLimits } from './limits.js';
export { DEFAULT_LIMITS } from './limits.js';
export type { ClientFrame } from './decode.js';
export { parseClientFrame } from './decode.js';
export type { PresenceMemberWire } from './encode.js';
export {
  encodeConnectionEstablished,
  encodeError,
  encodeChannelEvent,
  encodeSubscriptionSucceeded,
  encodePresenceSucceeded,
  encodeMemberAdded,
  encodeMemberRemoved,
  encodeSubscriptionCount,
  encodeCacheMiss,
  encodeSigninSuccess,
  encodeWatchlistEvents,
  encodeSubscriptionFailure,
  dataToString,
  PING_FRAME,
  PONG_FRAME,
} from './encode.js';
export type { AuthCheck, SigningCredentials } from './signature.js';
export {
  hmacSha256Hex,
  md5Hex,
  safeEqual,
  channelAuthString,
  userAuthString,
  signChannel,
  signUser,
  verifyAuthValue,
  signWebhook,
  signedByApp,
} from './signature.js';
export type { ApiAuthResult } from './api-signature.js';
export { API_TIMESTAMP_WINDOW_S, parseQueryString, apiStringToSign, signApiRequest, verifyApiRequest } from './api-signature.js';
export type { PresenceIdentity, PresenceCheck, SigninUser } from './presence.js';
export { parsePresenceData, parseUserData, MAX_WATCHLIST } from './presence.js';
export { WEBHOOK_EVENT_NAMES } from './webhook-events.js';
export type { WebhookEvent, WebhookEventName } from './webhook-events.js';
export type { Position, Recovery, RecoveryFailure, RecoveryFields } from './history.js';
export { EPOCH_PATTERN, formatPosition, parsePosition, positionOfFrame, withPosition } from './history.js';
