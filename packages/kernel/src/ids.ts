import { randomBytes, randomFillSync, randomUUID } from 'node:crypto';

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * Opaque, prefixed ids (`usr_01jd...`): 48 bits of millisecond time keep index inserts local and lists
 * roughly time-ordered, 80 random bits keep them unguessable.
 */
export function newId(prefix: string): string {
  return `${prefix}_${encodeTime(Date.now())}${encodeRandom(takeRandom(ID_RANDOM_BYTES))}`;
}

const ID_RANDOM_BYTES = 10;
/**
 * Ids draw their random bytes from a pool refilled 4 KiB at a time: randomBytes(10) costs ~2.4 µs a call
 * here, a few percent of a chat send, for bytes that are just as random taken in bulk.
 */
const randomPool = Buffer.alloc(4096);
let randomOffset = randomPool.length;

function takeRandom(count: number): Uint8Array {
  if (randomOffset + count > randomPool.length) {
    randomFillSync(randomPool);
    randomOffset = 0;
  }
  const bytes = randomPool.subarray(randomOffset, randomOffset + count);
  randomOffset += count;
  return bytes;
}

const REQUEST_ID = /^[\w.:@-]{1,128}$/;

/**
 * The id a request is known by in logs and in every hop after this one: the client's own `x-request-id`
 * when it is one plain token of at most 128 characters (so a client can follow its request through),
 * a new UUID otherwise (absent, repeated, too long, or characters that could forge log lines or headers).
 * One rule for HTTP and the WebSocket upgrade.
 */
export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

/** A random secret token (refresh tokens, verification links): 256 bits, base64url. */
export function newSecretToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

function encodeTime(ms: number): string {
  let out = '';
  let rest = ms;
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[rest % 32] + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}

function encodeRandom(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += CROCKFORD[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

const ID_PATTERN = /^[a-z]{2,8}_[0-9a-hjkmnp-tv-z]{26}$/;

export function isId(value: string, prefix?: string): boolean {
  return ID_PATTERN.test(value) && (prefix === undefined || value.startsWith(`${prefix}_`));
}
