/** Script replies are untyped; these checks turn a surprise into a clear error instead of a bad value. */

export function integer(reply: unknown, script: string): number {
  if (isInteger(reply)) return reply;
  throw unexpected(reply, script);
}

export function integerPair(reply: unknown, script: string): [number, number] {
  if (Array.isArray(reply) && reply.length === 2) {
    const [first, second]: unknown[] = reply;
    if (isInteger(first) && isInteger(second)) return [first, second];
  }
  throw unexpected(reply, script);
}

export function text(reply: unknown, script: string): string {
  if (typeof reply === 'string') return reply;
  throw unexpected(reply, script);
}

export function stringList(reply: unknown, script: string): string[] {
  if (Array.isArray(reply)) {
    const items: unknown[] = reply;
    if (items.every((item): item is string => typeof item === 'string')) return items;
  }
  throw unexpected(reply, script);
}

function isInteger(value: unknown): value is number {
  return Number.isSafeInteger(value);
}

function unexpected(reply: unknown, script: string): Error {
  return new Error(`Unexpected reply from the ${script} script: ${JSON.stringify(reply)}`);
}
