import { createHash } from 'node:crypto';

const UNSAFE = /[^A-Za-z0-9_-]/g;
const NAME = /^[A-Za-z0-9_-]+$/;
const PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/**
 * The durable consumer of one (group, filter subject): the server (2.9) filters a consumer on one subject
 * only. The group stays readable in `nats consumer ls`; the hash covers group and the whole filter subject,
 * since cleaning the group's characters alone could make `a.b` and `a_b` share a durable, and installs
 * that share a stream under different subject prefixes must not share one either.
 */
export function durableName(group: string, filterSubject: string): string {
  return nameWithHash(group, filterSubject);
}

/**
 * The name earlier versions gave the durable (the hash without the subject prefix). A deployment upgraded
 * from one keeps using its durable, and its position, rather than replaying the stream into a new one.
 */
export function legacyDurableName(group: string, pattern: string): string {
  return nameWithHash(group, pattern);
}

function nameWithHash(group: string, hashed: string): string {
  const readable = group.replace(UNSAFE, '_').slice(0, 40);
  const hash = createHash('sha256').update(group).update('\0').update(hashed).digest('hex').slice(0, 12);
  return `${readable}_${hash}`;
}

export function natsSubject(prefix: string, eventType: string): string {
  return `${prefix}.${eventType}`;
}

export function assertStreamName(stream: string): void {
  if (!NAME.test(stream))
    throw new Error(`Invalid NATS stream name "${stream}": use letters, digits, _ and -`);
}

export function assertSubjectPrefix(prefix: string): void {
  if (!PREFIX.test(prefix)) {
    throw new Error(`Invalid subject prefix "${prefix}": dot-separated letters, digits, _ and -`);
  }
}

/** Credentials in a NATS URL must not reach logs or error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username || parsed.password) {
      parsed.username = 'redacted';
      parsed.password = '';
    }
    return parsed.toString();
  } catch {
    return '(unparseable NATS URL)';
  }
}
