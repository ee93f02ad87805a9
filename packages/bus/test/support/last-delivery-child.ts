// A subscriber process for nats-bus.test.ts: fails an event's first delivery and hangs in its last one,
// printing LAST when it is there, so the test can SIGKILL it mid-handler. Arguments: a JSON NatsBus spec.
import { createLogger } from '@parley/kernel';
import { NatsBus } from '../../src/nats-bus.ts';

const spec = JSON.parse(process.argv[2] ?? '{}') as {
  url: string;
  stream: string;
  subjectPrefix: string;
  ackWaitMs: number;
  group: string;
  subject: string;
};
const bus = await NatsBus.connect({
  url: spec.url,
  stream: spec.stream,
  subjectPrefix: spec.subjectPrefix,
  ackWaitMs: spec.ackWaitMs,
  logger: createLogger({ level: 'silent' }),
});
await bus.subscribe({
  group: spec.group,
  subjects: [spec.subject],
  maxDeliver: 2,
  backoffMs: () => 0,
  handler: async (_event, { attempt }) => {
    if (attempt === 1) throw new Error('transient failure');
    process.stdout.write('LAST\n');
    // Still working when the process is killed.
    await new Promise(() => {});
  },
  onDeadLetter: async () => {
    process.stdout.write('DEAD\n');
  },
});
process.stdout.write('READY\n');
