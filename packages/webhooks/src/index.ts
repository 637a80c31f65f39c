/** Declared in protocol (the wire shape); re-exported for the worker, which builds batches of it. */
export type { WebhookEvent } from '@herald/protocol';
export type {
  WebhookApp,
  TransitionSink,
  WebhookBatch,
  DeadLetterHandler,
  WebhookLogger,
  WebhookDropHandler,
  WebhookOutcomeDebug,
  WebhookOutcomeHandler,
} from './types.js';
export { WebhookDropReason } from './types.js';
export { LogThrottle } from './log-throttle.js';
export type { RetryOptions } from './retry-policy.js';
export type { WebhookDispatcherOptions, WebhookDispatcherStats } from './dispatcher.js';
export { WebhookDispatcher } from './dispatcher.js';
export { WebhookDeliveryError, WebhookErrorCode } from './delivery-error.js';
export { WebhookDelivery } from './delivery.js';
export type { DeliveryOptions, DeliveryStats } from './delivery.js';
export { targetAccepts, formatForTarget } from './target-filter.js';
export { MemoryWebhookLog } from './memory-webhook-log.js';
export type { MemoryWebhookLogOptions } from './memory-webhook-log.js';
