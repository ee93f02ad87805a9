import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { after, afterEach, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createLogger, type EventEnvelope } from '@parley/kernel';
import { skipReason, testBackends } from '@parley/kernel/testing';
import { AckPolicy, connect, DeliverPolicy, nanos } from 'nats';
import { NatsBus } from '../src/nats-bus.ts';
import { durableName, legacyDurableName, natsSubject } from '../src/nats-names.ts';
import { sampleEvent, uniqueGroup, uniqueToken } from '../src/testing/fixtures.ts';
import { runBusContract, settle, waitFor } from '../src/testing/index.ts';
import { queueLastDelivery } from '../src/testing/last-delivery.ts';

const logger = createLogger({ level: 'silent' });
const { natsUrl } = testBackends();
const skip = natsUrl ? false : skipReason('NATS_URL', 'NATS JetStream bus contract');

describe('NatsBus against JetStream', { skip }, () => {
  const url = natsUrl ?? '';
  // A stream and subject space of this run's own, so parallel runs and leftovers never meet.
  const suffix = randomBytes(6).toString('hex');
  const stream = `PTEST_${suffix}`;
  const subjectPrefix = `ptest${suffix}`;

  after(async () => {
    const nc = await connect({ servers: url });
    try {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.delete(stream);
    } finally {
      await nc.close();
    }
  });

  runBusContract('NatsBus', () => NatsBus.connect({ url, stream, subjectPrefix, logger }), {
    deduplicatesById: true,
  });

  describe('NatsBus on JetStream only', () => {
    // A short ack wait, so that what waits for one (a dead process's events) takes a second, not 30.
    const ackWaitMs = 1_000;
    const opened: NatsBus[] = [];
    const open = async (): Promise<NatsBus> => {
      const bus = await NatsBus.connect({ url, stream, subjectPrefix, logger, ackWaitMs });
      opened.push(bus);
      return bus;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((bus) => bus.close()));
    });

    it('dead-letters an event whose process died during its last delivery, without running it again', async () => {
      const publisher = await open();
      const subject = `${uniqueToken('killed')}.created`;
      const group = uniqueGroup('killed');
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          fileURLToPath(new URL('./support/last-delivery-child.ts', import.meta.url)),
          JSON.stringify({ url, stream, subjectPrefix, ackWaitMs, group, subject }),
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      try {
        await waitFor(() => output.includes('READY'), 'the child to subscribe', 20_000);
        const event = sampleEvent(subject);
        await publisher.publish(event);
        await waitFor(() => output.includes('LAST'), 'the child to be in its last delivery');
      } finally {
        child.kill('SIGKILL');
        if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
      }

      const attempts: number[] = [];
      const deadLetters: { error: unknown; attempts: number }[] = [];
      await (await open()).subscribe({
        group,
        subjects: [subject],
        maxDeliver: 2,
        handler: async (_event, { attempt }) => void attempts.push(attempt),
        onDeadLetter: async (_event, error, count) => void deadLetters.push({ error, attempts: count }),
      });
      await waitFor(() => deadLetters.length > 0, 'the dead letter once the ack wait has freed the event');
      await settle();

      assert.equal(output.includes('DEAD'), false);
      assert.deepEqual(attempts, [], 'a delivery past maxDeliver never reaches the handler');
      assert.equal(deadLetters.length, 1);
      assert.equal(deadLetters[0]?.attempts, 2);
      assert.match(String(deadLetters[0]?.error), /past maxDeliver 2/);
    });

    it("dead-letters an event whose last delivery waited in a group's only subscriber when it closed", async () => {
      const bus = await open();
      const { group, subjects, flaky, subscriber: first } = await queueLastDelivery(bus, 'restart');
      // A restart with nobody else in the group: the hand-back at close meets no live pull request. (A
      // 2.9 server then mislays it until the ack wait, and redelivers the event before it once more.)
      await first.close();

      const outcomes: string[] = [];
      await (await open()).subscribe({
        group,
        subjects,
        maxDeliver: 2,
        handler: async (event) => void outcomes.push(`handled ${event.id}`),
        onDeadLetter: async (event) => void outcomes.push(`dead ${event.id}`),
      });
      await waitFor(() => outcomes.includes(`dead ${flaky.id}`), 'the dead letter', 4 * ackWaitMs + 2_000);
      await settle();

      assert.equal(outcomes.filter((outcome) => outcome.endsWith(flaky.id)).length, 1, outcomes.join(', '));
    });

    it('updates a durable created with a server-side max_deliver, keeping its position', async () => {
      const bus = await open();
      const subject = `${uniqueToken('legacy')}.created`;
      const group = uniqueGroup('legacy');
      const durable = durableName(group, natsSubject(subjectPrefix, subject));
      const nc = await connect({ servers: url });
      try {
        const jsm = await nc.jetstreamManager();
        // As an older version created it: the server gives up after two deliveries.
        await jsm.consumers.add(stream, {
          durable_name: durable,
          filter_subject: natsSubject(subjectPrefix, subject),
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.New,
          ack_wait: nanos(30_000),
          max_deliver: 2,
        });
        const pending = sampleEvent(subject);
        await bus.publish(pending);

        const attempts: number[] = [];
        const deadLetters: EventEnvelope[] = [];
        await bus.subscribe({
          group,
          subjects: [subject],
          maxDeliver: 3,
          backoffMs: () => 20,
          handler: async (_event, { attempt }) => {
            attempts.push(attempt);
            throw new Error('always fails');
          },
          onDeadLetter: async (event) => void deadLetters.push(event),
        });
        await waitFor(() => deadLetters.length > 0, 'the dead letter after the third attempt');

        const { config } = await jsm.consumers.info(stream, durable);
        assert.equal(config.max_deliver, -1);
        assert.equal(config.ack_wait, nanos(ackWaitMs));
        assert.deepEqual(
          attempts,
          [1, 2, 3],
          'the event published while the old durable existed, tried 3 times',
        );
        assert.deepEqual(
          deadLetters.map((event) => event.id),
          [pending.id],
        );
      } finally {
        await nc.close();
      }
    });

    it('bounds the stream by max_age, on a new stream and on one an older version created without', async () => {
      // A stream and subjects of this test's own (two streams may not share subjects).
      const own = `${stream}_AGE`;
      const ownPrefix = `${subjectPrefix}age`;
      const nc = await connect({ servers: url });
      try {
        const jsm = await nc.jetstreamManager();
        const day = 24 * 3600 * 1000;
        await (
          await NatsBus.connect({ url, stream: own, subjectPrefix: ownPrefix, logger, retentionMs: 3 * day })
        ).close();
        assert.equal((await jsm.streams.info(own)).config.max_age, nanos(3 * day));
        await jsm.streams.delete(own);

        // As an older version created it: no age limit.
        await jsm.streams.add({
          name: own,
          subjects: [`${ownPrefix}.>`],
          duplicate_window: nanos(120_000),
        });
        const bus = await NatsBus.connect({ url, stream: own, subjectPrefix: ownPrefix, logger });
        await bus.close();
        assert.equal(bus.retentionMs, 7 * day);
        const { config } = await jsm.streams.info(own);
        assert.equal(config.max_age, nanos(7 * day));
        assert.equal(config.duplicate_window, nanos(120_000));
      } finally {
        const jsm = await nc.jetstreamManager();
        await jsm.streams.delete(own).catch(() => false);
        await nc.close();
      }
    });

    it('keeps using the durable an earlier version named, from its position', async () => {
      const bus = await open();
      const subject = `${uniqueToken('upgraded')}.created`;
      const group = uniqueGroup('upgraded');
      const filterSubject = natsSubject(subjectPrefix, subject);
      const handledBefore = sampleEvent(subject);
      await bus.publish(handledBefore);
      const nc = await connect({ servers: url });
      try {
        const jsm = await nc.jetstreamManager();
        // As the earlier version left it: past the event it had handled.
        await jsm.consumers.add(stream, {
          durable_name: legacyDurableName(group, subject),
          filter_subject: filterSubject,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.New,
          ack_wait: nanos(ackWaitMs),
          max_deliver: -1,
        });
        const next = sampleEvent(subject);
        await bus.publish(next);
        const seen: string[] = [];
        await bus.subscribe({
          group,
          subjects: [subject],
          handler: async (event) => void seen.push(event.id),
        });
        await waitFor(() => seen.length > 0, 'the event after the upgrade');
        await settle(300);
        assert.deepEqual(seen, [next.id], 'not the one handled before the upgrade');
        await assert.rejects(jsm.consumers.info(stream, durableName(group, filterSubject)));
      } finally {
        await nc.close();
      }
    });

    it('keeps installs that share a stream under different subject prefixes apart, same group and subject', async () => {
      const otherPrefix = `${subjectPrefix}other`;
      const other = await NatsBus.connect({ url, stream, subjectPrefix: otherPrefix, logger, ackWaitMs });
      opened.push(other);
      const bus = await open();
      const subject = `${uniqueToken('shared')}.created`;
      const group = uniqueGroup('shared');
      const seenHere: string[] = [];
      const seenThere: string[] = [];
      await bus.subscribe({
        group,
        subjects: [subject],
        handler: async (event) => void seenHere.push(event.id),
      });
      await other.subscribe({
        group,
        subjects: [subject],
        handler: async (event) => void seenThere.push(event.id),
      });
      const here = sampleEvent(subject);
      const there = sampleEvent(subject);
      await bus.publish(here);
      await other.publish(there);
      await waitFor(() => seenHere.length > 0 && seenThere.length > 0, 'each install its own event');
      await settle(300);
      assert.deepEqual(seenHere, [here.id]);
      assert.deepEqual(seenThere, [there.id]);
    });

    it('keeps an event waiting behind a slow handler alive: handled once, on its first delivery', async () => {
      const bus = await open();
      const p = uniqueToken('waiting');
      const slow = sampleEvent(`${p}.slow`);
      const next = sampleEvent(`${p}.next`);
      const seen: { id: string; attempt: number }[] = [];
      await bus.subscribe({
        group: uniqueGroup('waiting'),
        subjects: [`${p}.>`],
        handler: async (event, { attempt }) => {
          seen.push({ id: event.id, attempt });
          // Several ack waits: the event behind it must not be redelivered meanwhile.
          if (event.id === slow.id) await delay(3 * ackWaitMs);
        },
      });
      await bus.publish(slow);
      await bus.publish(next);
      await waitFor(() => seen.some(({ id }) => id === next.id), 'the event behind the slow one', 10_000);
      await settle(2 * ackWaitMs);

      assert.deepEqual(seen, [
        { id: slow.id, attempt: 1 },
        { id: next.id, attempt: 1 },
      ]);
    });
  });
});

describe('NatsBus.connect', () => {
  it('fails fast with a clear error when no server listens', async () => {
    const started = Date.now();
    await assert.rejects(
      NatsBus.connect({ url: 'nats://127.0.0.1:1', logger }),
      /Cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/,
    );
    assert.ok(Date.now() - started < 5_000, 'gave up within 5 s');
  });
});
