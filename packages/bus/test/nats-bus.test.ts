import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { createLogger } from '@parley/kernel';
import { skipReason, testBackends } from '@parley/kernel/testing';
import { connect } from 'nats';
import { NatsBus } from '../src/nats-bus.ts';
import { runBusContract } from '../src/testing/index.ts';

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
