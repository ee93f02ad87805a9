import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryBus } from '@parley/bus';
import { type App, createEvent, createLogger } from '@parley/kernel';
import { readyServices } from '../src/ready-services.ts';

/** The part of an app readyServices drives: its onReady hooks, here one that publishes and one that fails. */
function appPublishingThenFailing(bus: MemoryBus, type: string): App {
  return {
    async ready() {
      await bus.publish(createEvent(type, { n: 1 }));
      throw new Error('a later service could not start');
    },
  } as unknown as App;
}

describe('readyServices', () => {
  it('keeps what early services published unsettled when a later one fails to start', async () => {
    const bus = new MemoryBus({ logger: createLogger({ level: 'silent' }) });
    const settled: string[] = [];
    bus.volatileEvents.onSettled((eventId) => settled.push(eventId));
    await assert.rejects(
      readyServices(appPublishingThenFailing(bus, 'test.ready.failed'), bus),
      /could not start/,
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(settled, [], 'settling would delete the outbox row of an event no group has handled');
    await bus.close();
    assert.deepEqual(settled, [], 'closing drops held events unsettled');
  });
});
