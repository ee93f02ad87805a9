import { setTimeout as delay } from 'node:timers/promises';
import type { EventEnvelope } from '@parley/kernel';
import type { Bus, Subscription } from '../bus.ts';
import { sampleEvent, uniqueGroup, uniqueToken } from './fixtures.ts';
import { waitFor } from './wait.ts';

export interface QueuedLastDelivery {
  group: string;
  /** The subjects the group listens to. */
  subjects: string[];
  /** The event whose second and last delivery (maxDeliver 2) waits in `subscriber`, not started. */
  flaky: EventEnvelope;
  subscriber: Subscription;
}

/**
 * A group whose only subscriber holds an event's last delivery unstarted: the event fails once, and its
 * redelivery queues behind a slow event the handler published meanwhile, which is still running. What a
 * rolling restart or a crash then does to that delivery is the caller's test.
 */
export async function queueLastDelivery(bus: Bus, name: string): Promise<QueuedLastDelivery> {
  const prefix = uniqueToken(name);
  const group = uniqueGroup(name);
  const subjects = [`${prefix}.>`];
  const flaky = sampleEvent(`${prefix}.flaky`);
  const slow = sampleEvent(`${prefix}.slow`);
  let slowStarted = false;
  const subscriber = await bus.subscribe({
    group,
    subjects,
    maxDeliver: 2,
    backoffMs: () => 0,
    handler: async (event, { attempt }) => {
      if (event.id === flaky.id && attempt === 1) {
        // The slow event arrives first, so the flaky event's redelivery queues up behind it.
        await bus.publish(slow);
        await delay(100);
        throw new Error('transient failure');
      }
      if (event.id === slow.id) {
        slowStarted = true;
        // Meanwhile the flaky event's second and last delivery waits behind this one.
        await delay(800);
      }
    },
  });
  await bus.publish(flaky);
  await waitFor(() => slowStarted, 'the slow handler to start');
  await delay(300);
  return { group, subjects, flaky, subscriber };
}
