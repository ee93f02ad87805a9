import { randomBytes } from 'node:crypto';

export interface TraceContext {
  traceId: string;
  /** This hop's span id: the parent-id upstreams see. */
  spanId: string;
  flags: string;
  /** The client's trace, continued (its tracestate goes on with it); false: a trace started here. */
  continued: boolean;
}

/** Random bytes drawn in bulk: ids for thousands of requests per system call instead of one each. */
const POOL_SIZE = 8192;
let pool = randomBytes(POOL_SIZE);
let offset = 0;

function randomHex(bytes: number): string {
  if (offset + bytes > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  offset += bytes;
  return pool.toString('hex', offset - bytes, offset);
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/**
 * W3C Trace Context: a valid incoming `traceparent` keeps its trace id and flags and gets a new span id for
 * the gateway's hop; anything else (absent, malformed, all-zero ids, an unknown version) starts a new trace,
 * and then the client's tracestate, which belonged to the trace it could not continue, is not passed on.
 */
export function continueTrace(header: string | string[] | undefined): TraceContext {
  const match = typeof header === 'string' ? TRACEPARENT.exec(header.trim().toLowerCase()) : null;
  const spanId = randomHex(8);
  if (match && match[1] !== ZERO_TRACE && match[2] !== ZERO_SPAN) {
    return { traceId: match[1] as string, spanId, flags: match[3] as string, continued: true };
  }
  return { traceId: randomHex(16), spanId, flags: '00', continued: false };
}

export function formatTraceparent(trace: TraceContext): string {
  return `00-${trace.traceId}-${trace.spanId}-${trace.flags}`;
}
