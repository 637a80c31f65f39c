export { Api } from './api.js';
export { HeraldAdmin } from './admin.js';
export type {
  AdminOptions,
  App,
  AppFields,
  AppList,
  AppPatch,
  AppSummary,
  AppWebhook,
  AuditEntry,
  AuditOptions,
  IfMatch,
  NewApp,
  RotateSecretOptions,
} from './admin-types.js';
export type { ApiOptions, DataEncoding, SdkLimits } from './options.js';
export { HeraldApiError, HeraldApiErrorCode } from './errors.js';
export type { FieldIssue } from './errors.js';
export type {
  BatchEvent,
  BatchResult,
  ChannelAttributes,
  ChannelAuthorization,
  ChannelInfo,
  ChannelOptions,
  ChannelsOptions,
  ChannelsResult,
  HistoryEvent,
  HistoryOptions,
  HistoryResult,
  Info,
  InfoAttribute,
  PresenceData,
  PresenceUser,
  TriggerOptions,
  TriggerResult,
  UserAuthentication,
  UserData,
} from './types.js';
export type { VerifyWebhookOptions, WebhookEvent, WebhookHeaders, WebhookVerification } from './webhook.js';
