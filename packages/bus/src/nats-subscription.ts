import type { EventEnvelope, Logger } from '@parley/kernel';
import type { ConsumerMessages, JsMsg } from 'nats';
import type { Subscription } from './bus.ts';
import { pastMaxDeliverError, type SubscriptionSettings } from './subscription-settings.ts';

export interface NatsSubscriptionTuning {
  /** The consumers' ack wait: a held message is marked as in progress well within it. */
  ackWaitMs: number;
  /** Most messages taken from the server and not yet settled (handled, handed back or dead-lettered). */
  readAhead: number;
}

/**
 * One subscriber: a pull loop per subject pattern (one durable each), with handlers serialized across the
 * loops so the subscription handles one event at a time. Every delivery counts toward maxDeliver on the
 * server, handled or not, so the subscription counts them itself and never lets one lapse unnoticed.
 */
export class NatsSubscription implements Subscription {
  private readonly sources: ConsumerMessages[] = [];
  private readonly loops: Promise<void>[] = [];
  /**
   * Pulled and not yet settled: the one in progress and those waiting for their turn. All are kept alive
   * with `working()`: one left waiting past the ack wait would be redelivered, a delivery no handler saw.
   */
  private readonly held = new Set<JsMsg>();
  private heartbeat: NodeJS.Timeout | undefined;
  /** Pull loops waiting for read-ahead room. */
  private waiting: (() => void)[] = [];
  private turn: Promise<void> = Promise.resolve();
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly settings: SubscriptionSettings,
    private readonly logger: Logger,
    private readonly tuning: NatsSubscriptionTuning,
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
        this.hold(msg);
        void this.serialized(() => this.process(msg))
          .catch((error: unknown) => {
            this.logger.error({ err: error, group: this.settings.group }, 'bus handler loop failed');
          })
          .finally(() => this.release(msg));
        // Messages are taken as soon as they arrive, so that they are kept alive while they wait; the
        // iterator asks the server for more only as it is read, so waiting here bounds how far ahead we pull.
        while (this.held.size >= this.tuning.readAhead) {
          await new Promise<void>((resolve) => this.waiting.push(resolve));
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
      // Pulled but not started: hand it back now rather than after the ack wait expires. The server counts
      // this as a delivery; if it was the event's last one, the next subscriber dead-letters it (see below).
      // With no other subscriber of the group pulling, a 2.9 server mislays the hand-back until the ack wait
      // (and sends the message before it again): later, never lost.
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
    if (attempt > maxDeliver) {
      // The last allowed delivery ended without a reply (its process died, or its subscription closed with
      // the event still waiting), or the limit was lowered since: give up now, but never silently.
      await deadLetter(event, pastMaxDeliverError(attempt, maxDeliver), attempt - 1);
      this.settle(msg, () => msg.term());
      return;
    }
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

  private hold(msg: JsMsg): void {
    this.held.add(msg);
    // One timer for all held messages, running only while there are some.
    this.heartbeat ??= setInterval(() => this.keepAlive(), this.tuning.ackWaitMs / 3);
  }

  private release(msg: JsMsg): void {
    this.held.delete(msg);
    if (this.held.size === 0 && this.heartbeat) {
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
    }
    const waiting = this.waiting;
    this.waiting = [];
    for (const wake of waiting) wake();
  }

  /** Tells the server each held message is still being worked on, so none is redelivered while we hold it. */
  private keepAlive(): void {
    for (const msg of this.held) {
      try {
        msg.working();
      } catch {
        // The connection is gone: the server redelivers after the ack wait, and the count says so.
      }
    }
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    // Stops pulling; the loops still take what had arrived, and process() hands it back.
    const results = await Promise.all(this.sources.map((messages) => messages.close()));
    for (const result of results) {
      if (result instanceof Error) this.logger.warn({ err: result }, 'bus consumer closed with an error');
    }
    await Promise.all(this.loops);
    // The handler in progress, then the hand-backs queued behind it.
    await this.turn;
  }
}
