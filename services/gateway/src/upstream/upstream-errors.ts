/** What went wrong talking to an upstream, as far as retrying and answering the client are concerned. */
export type FailureKind =
  /** The connection was never made: nothing was sent, any request may go elsewhere. */
  | 'connect'
  | 'connect_timeout'
  /** The connection broke after the request may have been (partly) sent. */
  | 'reset'
  | 'headers_timeout'
  | 'body_timeout'
  /** We cancelled it (the client went away). */
  | 'aborted'
  | 'other';

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);
const RESET_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'ETIMEDOUT',
]);

export function classifyFailure(error: unknown): FailureKind {
  const code = codeOf(error) ?? codeOf((error as { cause?: unknown } | null)?.cause);
  if (code === undefined) return 'other';
  if (CONNECT_CODES.has(code)) return 'connect';
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'connect_timeout';
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return 'headers_timeout';
  if (code === 'UND_ERR_BODY_TIMEOUT') return 'body_timeout';
  if (code === 'UND_ERR_ABORTED' || code === 'ABORT_ERR') return 'aborted';
  if (RESET_CODES.has(code)) return 'reset';
  return 'other';
}

/** The request provably never reached the upstream, so even a POST may be sent to another node. */
export function nothingWasSent(kind: FailureKind): boolean {
  return kind === 'connect' || kind === 'connect_timeout';
}

/** A failure of the connection itself (as opposed to a slow or misbehaving application). */
export function isConnectionFailure(kind: FailureKind): boolean {
  return kind === 'connect' || kind === 'connect_timeout' || kind === 'reset';
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

export function isIdempotent(method: string): boolean {
  return IDEMPOTENT.has(method);
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
