import type { Bus } from '@parley/bus';
import type { App } from '@parley/kernel';

/**
 * Runs the onReady hooks of every service registered on `app`: each subscribes its consumer groups there
 * and starts publishing, one service after another. On the in-process bus an event published by an early
 * service must not settle (and lose its outbox row) before the groups of the later ones have subscribed
 * and handled it, so the bus holds every event for the groups to come until all hooks have run.
 * When a hook fails, the hold stays: releasing it would settle what the early services published for
 * groups that never subscribed, and their rows would go; closing the bus drops held events unsettled,
 * so the next start publishes them again.
 */
export async function readyServices(app: App, bus: Bus | undefined): Promise<void> {
  const allSubscribed = bus?.volatileEvents?.holdForGroups();
  await app.ready();
  allSubscribed?.();
}
