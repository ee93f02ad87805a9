import { randomUUID } from 'node:crypto';
import { createEvent, type EventEnvelope } from '@parley/kernel';
import type { Delivery } from '../bus.ts';

/**
 * A subject token no other test uses: tests share one bus backend (a stream, for NATS), so each one
 * publishes under its own prefix and subscribes with its own group.
 */
export function uniqueToken(label: string): string {
  return `${label}${randomUUID().replaceAll('-', '')}`;
}

export function uniqueGroup(label: string): string {
  return `${label}-${randomUUID()}`;
}

export function sampleEvent(type: string, data: unknown = { n: 0 }): EventEnvelope {
  return createEvent(type, data, {
    actor: { type: 'user', id: 'usr_contract' },
    correlationId: `cor_${randomUUID()}`,
  });
}

export interface Received {
  event: EventEnvelope;
  attempt: number;
}

/** Collects what a handler saw, for assertions after the fact. */
export class Recorder {
  readonly received: Received[] = [];

  readonly handler = async (event: EventEnvelope, delivery: Delivery): Promise<void> => {
    this.received.push({ event, attempt: delivery.attempt });
  };

  ids(): string[] {
    return this.received.map(({ event }) => event.id);
  }

  count(id: string): number {
    return this.received.filter(({ event }) => event.id === id).length;
  }

  has(id: string): boolean {
    return this.count(id) > 0;
  }
}

/** A Recorder whose handler, once it has recorded an event, waits for `release()`: a group kept busy. */
export class HoldingRecorder extends Recorder {
  private releaseHandlers: () => void = () => {};
  private readonly released = new Promise<void>((resolve) => {
    this.releaseHandlers = resolve;
  });

  override readonly handler = async (event: EventEnvelope, delivery: Delivery): Promise<void> => {
    this.received.push({ event, attempt: delivery.attempt });
    await this.released;
  };

  release(): void {
    this.releaseHandlers();
  }
}
