/** A map key per app and name; valid app ids and channel names hold no newline, so keys never collide. */
export const memoryKey = (appId: string, name: string) => `${appId}\n${name}`;
