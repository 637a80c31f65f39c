/** The public types, shared by every entry point. */
export type { ChannelAuthData, ChannelAuthorizer, KeyValues, UserAuthData, UserAuthenticator } from './auth.js';
export { AuthRequestError } from './auth.js';
export type { ReconnectOptions } from './backoff.js';
export type { Channel, EncryptedChannel, PresenceChannel } from './channel.js';
export type { Connection, ConnectionState, StateChange } from './connection.js';
export type { Emitter, GlobalListener, Listener } from './emitter.js';
export type { EventMetadata, PushErrorEvent } from './frames.js';
export type { Member, Members } from './members.js';
export type { PushCore, PushOptions, ResolvedPushOptions } from './push.js';
export type {
  HttpClient,
  HttpRequest,
  HttpResponse,
  HttpStreamClient,
  HttpStreamHandlers,
  NetworkMonitor,
  Platform,
  Socket,
  SocketHandlers,
  Transport,
} from './transport.js';
export type { TransportName } from './transport-selector.js';
export type { User } from './user.js';
export type { RecoveredEvent, RecoveryFailedEvent, RecoveryFailureReason } from './recovery.js';
