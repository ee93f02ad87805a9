import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamManager,
  NatsError,
  nanos,
  StorageType,
  type StreamInfo,
} from 'nats';

/** Long enough to cover an outbox relay re-publishing after a crash and restart. */
const DUPLICATE_WINDOW_MS = 2 * 60_000;
/** Handlers running longer keep the message with `working()`; a crashed process frees it after this. */
export const DEFAULT_ACK_WAIT_MS = 30_000;

export function isNotFound(error: unknown): boolean {
  return error instanceof NatsError && error.api_error?.code === 404;
}

/**
 * Creates the stream, or brings an existing one to our subjects, duplicate window and age limit. Several
 * processes start at once, so losing the race to create it is expected and resolved by updating.
 * `retentionMs` becomes max_age: events older than it are gone, for every group. It is what bounds the
 * stream's storage (limits retention alone keeps every event forever), and the replay a new group starts
 * with (its durable delivers from the oldest event kept).
 */
export async function ensureStream(
  jsm: JetStreamManager,
  stream: string,
  subjectPrefix: string,
  retentionMs: number,
): Promise<void> {
  const subject = `${subjectPrefix}.>`;
  // JetStream refuses a duplicate window longer than max_age.
  const duplicateWindow = nanos(Math.min(DUPLICATE_WINDOW_MS, retentionMs));
  const maxAge = nanos(retentionMs);
  let info: StreamInfo;
  try {
    info = await jsm.streams.info(stream);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    try {
      await jsm.streams.add({
        name: stream,
        subjects: [subject],
        storage: StorageType.File,
        duplicate_window: duplicateWindow,
        max_age: maxAge,
      });
      return;
    } catch (addError) {
      info = await jsm.streams.info(stream).catch(() => Promise.reject(addError));
    }
  }
  const { config } = info;
  const subjects = config.subjects ?? [];
  if (
    subjects.includes(subject) &&
    config.duplicate_window === duplicateWindow &&
    config.max_age === maxAge
  ) {
    return;
  }
  // A stream made by an older version has no max_age: the update drops what is older at once.
  await jsm.streams.update(stream, {
    subjects: subjects.includes(subject) ? subjects : [...subjects, subject],
    duplicate_window: duplicateWindow,
    max_age: maxAge,
  });
}

export interface ConsumerSpec {
  durable: string;
  filterSubject: string;
  ackWaitMs: number;
}

/**
 * The server redelivers without limit; each subscription enforces its own maxDeliver. A server-side limit
 * drops an event silently when its last delivery ends without a reply (a crash, or a close handing it
 * back): nobody is left to dead-letter it. Client-side, that delivery comes back once more, past the limit,
 * and is dead-lettered without running the handler.
 */
export const SERVER_MAX_DELIVER = -1;

/**
 * Which durable a (group, subject) uses: the one an earlier version named `legacy` when it exists and
 * filters this very subject (an upgraded deployment keeps its position), else `current`.
 */
export async function chooseDurable(
  jsm: JetStreamManager,
  stream: string,
  names: { legacy: string; current: string },
  filterSubject: string,
): Promise<string> {
  try {
    const { config } = await jsm.consumers.info(stream, names.legacy);
    return config.filter_subject === filterSubject ? names.legacy : names.current;
  } catch (error) {
    if (isNotFound(error)) return names.current;
    throw error;
  }
}

/**
 * A new durable delivers everything the stream still holds (deliver policy "all", bounded by max_age), so
 * a group that first subscribes after events were published gets them; "new" lost them for good. The
 * policy applies only when the durable is created: afterwards the group resumes from its stored position,
 * which is what makes the group survive restarts. A durable made by an older version (deliver policy
 * "new", a server-side max_deliver) is updated in place, its position kept.
 */
export async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  spec: ConsumerSpec,
): Promise<void> {
  const ackWait = nanos(spec.ackWaitMs);
  try {
    const { config } = await jsm.consumers.info(stream, spec.durable);
    if (config.filter_subject !== spec.filterSubject) {
      throw new Error(
        `Consumer ${spec.durable} on ${stream} filters ${config.filter_subject}, expected ${spec.filterSubject}`,
      );
    }
    if (config.max_deliver !== SERVER_MAX_DELIVER || config.ack_wait !== ackWait) {
      await jsm.consumers.update(stream, spec.durable, {
        max_deliver: SERVER_MAX_DELIVER,
        ack_wait: ackWait,
      });
    }
    return;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  try {
    await jsm.consumers.add(stream, {
      durable_name: spec.durable,
      filter_subject: spec.filterSubject,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: ackWait,
      max_deliver: SERVER_MAX_DELIVER,
    });
  } catch (error) {
    await jsm.consumers.info(stream, spec.durable).catch(() => Promise.reject(error));
  }
}
