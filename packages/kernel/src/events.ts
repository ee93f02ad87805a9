import { newId } from './ids.ts';

export interface EventActor {
  type: 'user' | 'bot' | 'service' | 'system';
  id: string;
}

/** The envelope every domain event travels in, whatever the bus. */
export interface EventEnvelope<TData = unknown> {
  id: string;
  type: string;
  version: number;
  occurredAt: string;
  actor: EventActor | null;
  correlationId: string | null;
  data: TData;
}

export function createEvent<TData>(
  type: string,
  data: TData,
  options: { actor?: EventActor | null; version?: number; correlationId?: string | null } = {},
): EventEnvelope<TData> {
  return {
    id: newId('evt'),
    type,
    version: options.version ?? 1,
    occurredAt: new Date().toISOString(),
    actor: options.actor ?? null,
    correlationId: options.correlationId ?? null,
    data,
  };
}

/** NATS-style subject matching over dot-separated event types: `*` one token, `>` the rest. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const want = pattern.split('.');
  const have = subject.split('.');
  for (let i = 0; i < want.length; i++) {
    const token = want[i];
    if (token === '>') return have.length > i;
    if (i >= have.length) return false;
    if (token !== '*' && token !== have[i]) return false;
  }
  return want.length === have.length;
}
