export type {
  WebhookEventName,
  WebhookTarget,
  WebhookApp,
  WebhookEvent,
  TransitionSink,
  WebhookBatch,
  DeadLetterHandler,
  WebhookLogger,
} from './types.js';
export type { RetryOptions } from './retry-policy.js';
export type { WebhookDispatcherOptions, WebhookDispatcherStats } from './dispatcher.js';
export { WebhookDispatcher } from './dispatcher.js';
export type { DebounceReport } from './debouncer.js';
export { Debouncer } from './debouncer.js';
export { WebhookDeliveryError, WebhookErrorCode } from './delivery-error.js';
