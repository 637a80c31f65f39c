import type { WebhookTarget } from '@herald/config';
import type { WebhookEvent, WebhookEventName } from '@herald/protocol';

/** webman/push names for the occupancy and presence events; every other event keeps its Pusher name. */
const WEBMAN_NAMES: Partial<Record<WebhookEventName, string>> = {
  channel_occupied: 'channel_added',
  channel_vacated: 'channel_removed',
  member_added: 'user_added',
  member_removed: 'user_removed',
};

/** Whether `target` subscribes to `event` (filters use Pusher names whatever the target's format). */
export function targetAccepts(target: WebhookTarget, event: WebhookEvent): boolean {
  if (target.events !== undefined && !target.events.includes(event.name)) return false;
  return target.channelPrefix === undefined || event.channel.startsWith(target.channelPrefix);
}

/** The event as `target` wants it on the wire. */
export function formatForTarget(target: WebhookTarget, event: WebhookEvent): WebhookEvent {
  if (target.format !== 'webman') return event;
  const name = WEBMAN_NAMES[event.name];
  // The wire name is outside WebhookEventName on purpose: only webman targets ever see it.
  return name === undefined ? event : ({ ...event, name } as unknown as WebhookEvent);
}
