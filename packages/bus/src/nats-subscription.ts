import type { EventEnvelope, Logger } from '@parley/kernel';
import type { ConsumerMessages, JsMsg } from 'nats';
import type { Subscription } from './bus.ts';
import { ACK_WAIT_MS } from './nats-setup.ts';
import type { SubscriptionSettings } from './subscription-settings.ts';

/**
 * One subscriber: a pull loop per subject pattern (one durable each), with handlers serialized across the
 * loops so the subscription handles one event at a time.
 */
export class NatsSubscription implements Subscription {
  private readonly sources: ConsumerMessages[] = [];
  private readonly loops: Promise<void>[] = [];
  private turn: Promise<void> = Promise.resolve();
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly settings: SubscriptionSettings,
    private readonly logger: Logger,
  ) {}

  run(messages: ConsumerMessages): void {
    this.sources.push(messages);
    this.loops.push(this.pull(messages));
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async pull(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const msg of messages) {
        const stopKeepAlive = keepAlive(msg);
        try {
          await this.serialized(() => this.process(msg));
        } finally {
          stopKeepAlive();
        }
      }
    } catch (error) {
      if (!this.closed) this.logger.error({ err: error, group: this.settings.group }, 'bus consumer stopped');
    }
  }

  private serialized(task: () => Promise<void>): Promise<void> {
    const run = this.turn.then(task);
    this.turn = run.catch(() => undefined);
    return run;
  }

  private async process(msg: JsMsg): Promise<void> {
    if (this.closed) {
      // Already pulled but not started: hand it back now rather than after the ack wait expires. The server
      // counts this as a delivery, so the next subscriber sees a higher attempt number.
      this.settle(msg, () => msg.nak());
      return;
    }
    let event: EventEnvelope;
    try {
      event = msg.json<EventEnvelope>();
    } catch (error) {
      this.logger.error({ err: error, subject: msg.subject, seq: msg.seq }, 'undecodable event dropped');
      this.settle(msg, () => msg.term());
      return;
    }
    const { handler, maxDeliver, backoffMs, deadLetter } = this.settings;
    const attempt = msg.info.deliveryCount;
    try {
      await handler(event, { attempt });
      this.settle(msg, () => msg.ack());
    } catch (error) {
      if (attempt >= maxDeliver) {
        await deadLetter(event, error, attempt);
        this.settle(msg, () => msg.term());
      } else {
        this.settle(msg, () => msg.nak(backoffMs(attempt)));
      }
    }
  }

  /** Acks fail only when the connection is gone; the server then redelivers after the ack wait. */
  private settle(msg: JsMsg, reply: () => void): void {
    try {
      reply();
    } catch (error) {
      this.logger.warn({ err: error, subject: msg.subject, seq: msg.seq }, 'could not acknowledge event');
    }
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    // close() resolves once the loop has taken every buffered message, i.e. after the handler in progress.
    const results = await Promise.all(this.sources.map((messages) => messages.close()));
    for (const result of results) {
      if (result instanceof Error) this.logger.warn({ err: result }, 'bus consumer closed with an error');
    }
    await Promise.all(this.loops);
  }
}

/** Tells the server a message is still being worked on, so a long handler doesn't get it redelivered. */
function keepAlive(msg: JsMsg): () => void {
  const timer = setInterval(() => {
    try {
      msg.working();
    } catch {
      // The connection is gone: nothing to keep alive, the server redelivers after the ack wait.
      clearInterval(timer);
    }
  }, ACK_WAIT_MS / 3);
  return () => clearInterval(timer);
}
