import type { Bus } from '@parley/bus';
import type { App } from '@parley/kernel';

/**
 * Runs the onReady hooks of every service registered on `app`: each subscribes its consumer groups there
 * and starts publishing, one service after another. On the in-process bus an event published by an early
 * service must not settle (and lose its outbox row) before the groups of the later ones have subscribed
 * and handled it, so the bus holds every event for the groups to come until all hooks have run.
 */
export async function readyServices(app: App, bus: Bus | undefined): Promise<void> {
  const allSubscribed = bus?.volatileEvents?.holdForGroups();
  try {
    await app.ready();
  } finally {
    allSubscribed?.();
  }
}
