/**
 * Both adapters reject the same malformed names so a typo fails in development (in-process) exactly as it
 * would against NATS, where a wildcard in a published subject or an empty token is a protocol error.
 */
const TOKEN = /^[^\s.*>]+$/;

/** Types found valid before: a process publishes a handful of types, each of them over and over. */
const validTypes = new Set<string>();
const VALID_TYPES_KEPT = 1024;

export function assertEventType(type: string): void {
  if (validTypes.has(type)) return;
  if (!type.split('.').every((token) => TOKEN.test(token))) {
    throw new Error(`Invalid event type "${type}": dot-separated tokens without spaces or wildcards`);
  }
  if (validTypes.size < VALID_TYPES_KEPT) validTypes.add(type);
}

export function assertSubjectPattern(pattern: string): void {
  const tokens = pattern.split('.');
  const valid = tokens.every(
    (token, i) => TOKEN.test(token) || token === '*' || (token === '>' && i === tokens.length - 1),
  );
  if (!valid) {
    throw new Error(
      `Invalid subject pattern "${pattern}": use tokens, "*" for one token, ">" last for the rest`,
    );
  }
}
