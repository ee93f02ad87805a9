import type { ServerToClientEvents } from '@parley/contracts';

export type ServerEvent = keyof ServerToClientEvents;
export type ServerPayload<E extends ServerEvent> = Parameters<ServerToClientEvents[E]>[0];

/**
 * How domain code reaches connected users without knowing about sockets: the realtime layer implements it
 * with Socket.IO rooms (`user:<id>`), across processes when the Redis adapter is on.
 */
export interface Notifier {
  toUsers<E extends ServerEvent>(userIds: readonly string[], event: E, payload: ServerPayload<E>): void;
}

/** Until (or unless) Socket.IO is attached: REST keeps working, nobody is pushed to. */
export class SilentNotifier implements Notifier {
  toUsers(): void {}
}

/** Lets the realtime layer plug in after the domain services exist. */
export class NotifierSlot implements Notifier {
  private target: Notifier = new SilentNotifier();

  use(target: Notifier): void {
    this.target = target;
  }

  toUsers<E extends ServerEvent>(userIds: readonly string[], event: E, payload: ServerPayload<E>): void {
    if (userIds.length > 0) this.target.toUsers(userIds, event, payload);
  }
}
