import { createLogger, type Logger } from '@parley/kernel';
import { connect, Events, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import {
  type Bus,
  DEFAULT_EVENT_RETENTION_MS,
  type PublishableEvent,
  type Subscription,
  type SubscriptionOptions,
  wireForm,
} from './bus.ts';
import {
  assertStreamName,
  assertSubjectPrefix,
  durableName,
  legacyDurableName,
  natsSubject,
  redactUrl,
} from './nats-names.ts';
import { chooseDurable, DEFAULT_ACK_WAIT_MS, ensureConsumer, ensureStream } from './nats-setup.ts';
import { NatsSubscription } from './nats-subscription.ts';
import { assertEventType } from './subjects.ts';
import { resolveSubscription } from './subscription-settings.ts';

export interface NatsBusOptions {
  url: string;
  /** JetStream stream holding the events (default `PARLEY`). */
  stream?: string;
  /** Event type `a.b` travels on subject `<subjectPrefix>.a.b` (default `parley`). */
  subjectPrefix?: string;
  logger?: Logger;
  /** Bound on connecting and on each JetStream API call, so a missing server fails start-up (default 5 s). */
  timeoutMs?: number;
  /**
   * How long a delivery may go without an ack or a sign of life before the server redelivers it (default
   * 30 s): what a crashed subscriber delays its events by. Every process of a deployment should agree.
   */
  ackWaitMs?: number;
  /** The stream's max_age: how long events are kept for groups that are new, behind or retrying (7 days). */
  retentionMs?: number;
}

/**
 * Event messages are small; a small pull batch keeps few messages waiting in this process (each is kept
 * alive while it waits, but is one more to hand back on close) and lets the other subscribers of a group
 * take the rest.
 */
const PULL_BATCH = 10;

/** The Bus over NATS JetStream: durable, shared by every process of a deployment. */
export class NatsBus implements Bus {
  readonly retentionMs: number;
  private readonly subscriptions = new Set<NatsSubscription>();
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
    private readonly stream: string,
    private readonly subjectPrefix: string,
    private readonly ackWaitMs: number,
    retentionMs: number,
    private readonly logger: Logger,
  ) {
    this.retentionMs = retentionMs;
  }

  static async connect(options: NatsBusOptions): Promise<NatsBus> {
    const stream = options.stream ?? 'PARLEY';
    const subjectPrefix = options.subjectPrefix ?? 'parley';
    const timeout = options.timeoutMs ?? 5_000;
    const logger = options.logger ?? createLogger({ level: 'info', name: 'bus' });
    const ackWaitMs = options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
    if (!Number.isInteger(ackWaitMs) || ackWaitMs < 1000) {
      throw new Error(`ackWaitMs must be an integer of at least 1000, got ${ackWaitMs}`);
    }
    const retentionMs = options.retentionMs ?? DEFAULT_EVENT_RETENTION_MS;
    if (!Number.isInteger(retentionMs) || retentionMs < 1000) {
      throw new Error(`retentionMs must be an integer of at least 1000, got ${retentionMs}`);
    }
    assertStreamName(stream);
    assertSubjectPrefix(subjectPrefix);
    const where = redactUrl(options.url);

    let nc: NatsConnection;
    try {
      // Reconnect forever once connected: a NATS restart must not take the service down with it.
      nc = await connect({ servers: options.url, name: 'parley-bus', timeout, maxReconnectAttempts: -1 });
    } catch (error) {
      throw new Error(`Cannot connect to NATS at ${where}: ${messageOf(error)}`, { cause: error });
    }
    try {
      const jsm = await nc.jetstreamManager({ timeout });
      await ensureStream(jsm, stream, subjectPrefix, retentionMs);
      const js = nc.jetstream({ timeout });
      const bus = new NatsBus(nc, jsm, js, stream, subjectPrefix, ackWaitMs, retentionMs, logger);
      bus.watchConnection(where);
      return bus;
    } catch (error) {
      await nc.close().catch(() => undefined);
      throw new Error(`NATS JetStream at ${where} unusable for stream ${stream}: ${messageOf(error)}`, {
        cause: error,
      });
    }
  }

  async publish(event: PublishableEvent): Promise<void> {
    this.assertOpen();
    const { id, type, json } = wireForm(event);
    assertEventType(type);
    // The event id as message id lets JetStream drop a re-publish within the duplicate window.
    await this.js.publish(natsSubject(this.subjectPrefix, type), json, { msgID: id });
  }

  async subscribe(options: SubscriptionOptions): Promise<Subscription> {
    this.assertOpen();
    const settings = resolveSubscription(options, this.logger);
    const subscription = new NatsSubscription(settings, this.logger, {
      ackWaitMs: this.ackWaitMs,
      readAhead: PULL_BATCH,
    });
    this.subscriptions.add(subscription);
    try {
      for (const pattern of settings.subjects) {
        const filterSubject = natsSubject(this.subjectPrefix, pattern);
        const durable = await chooseDurable(
          this.jsm,
          this.stream,
          {
            legacy: legacyDurableName(settings.group, pattern),
            current: durableName(settings.group, filterSubject),
          },
          filterSubject,
        );
        await ensureConsumer(this.jsm, this.stream, {
          durable,
          filterSubject,
          ackWaitMs: this.ackWaitMs,
        });
        const consumer = await this.js.consumers.get(this.stream, durable);
        subscription.run(await consumer.consume({ max_messages: PULL_BATCH }));
      }
    } catch (error) {
      await this.release(subscription);
      throw error;
    }
    return {
      close: () => this.release(subscription),
    };
  }

  async ping(): Promise<void> {
    this.assertOpen();
    await this.jsm.getAccountInfo();
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async release(subscription: NatsSubscription): Promise<void> {
    await subscription.close();
    this.subscriptions.delete(subscription);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('Bus is closed');
  }

  private watchConnection(where: string): void {
    void (async () => {
      for await (const status of this.nc.status()) {
        if (status.type === Events.Disconnect || status.type === Events.Reconnect) {
          this.logger.warn({ nats: where, status: status.type }, 'NATS connection changed');
        }
      }
    })().catch((error: unknown) => this.logger.warn({ err: error }, 'NATS status watch stopped'));
    void this.nc.closed().then((error) => {
      if (error) this.logger.error({ err: error, nats: where }, 'NATS connection closed');
    });
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.subscriptions].map((subscription) => this.release(subscription)));
    // Drain flushes the acks of the last handled events before the socket closes.
    await this.nc.drain().catch((error: unknown) => {
      this.logger.warn({ err: error }, 'NATS drain failed');
    });
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
