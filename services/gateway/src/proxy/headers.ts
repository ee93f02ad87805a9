import type { IncomingHttpHeaders } from 'node:http';
import type { ForwardedClient } from '@parley/kernel';
import { formatTraceparent, type TraceContext } from '../edge/trace-context.ts';

/** Headers that describe one connection, not the message: never forwarded in either direction (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Set by the gateway itself; whatever the client sent under these names is dropped. X-Real-IP is never
 * set: the client's address travels in X-Forwarded-For alone, and a forged one must not reach a service.
 */
const GATEWAY_OWNED = new Set([
  'host',
  'expect',
  'forwarded',
  'x-real-ip',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-request-id',
  'traceparent',
]);

type HeaderValue = string | string[] | undefined;

const NO_TOKENS: ReadonlySet<string> = new Set();

function connectionTokens(value: HeaderValue): ReadonlySet<string> {
  if (value === undefined) return NO_TOKENS;
  const joined = Array.isArray(value) ? value.join(',') : value;
  // What nearly every peer sends: these name no header besides the hop-by-hop ones dropped anyway.
  const lower = joined.toLowerCase();
  if (lower === 'keep-alive' || lower === 'close') return NO_TOKENS;
  return new Set(
    joined
      .split(',')
      .map((token) => token.trim().toLowerCase())
      .filter(Boolean),
  );
}

export interface ForwardContext {
  requestId: string;
  /**
   * This hop's trace (none: no traceparent goes on). When it continues the client's, the client's
   * tracestate goes with it; otherwise that is dropped (W3C).
   */
  trace: TraceContext | null | undefined;
  /** Fastify's request.ip/protocol/host, or app.clientOf for upgrades: one compiled trust decides both. */
  client: ForwardedClient;
  /** Replaces content-length (a buffered body's exact size); undefined keeps the client's. */
  contentLength?: number | undefined;
}

/** The request headers an upstream receives: the client's end-to-end headers plus who the client is. */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  context: ForwardContext,
): Record<string, string | string[]> {
  const named = connectionTokens(incoming.connection);
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || GATEWAY_OWNED.has(name) || named.has(name)) continue;
    headers[name] = value;
  }
  if (context.contentLength !== undefined) {
    if (context.contentLength > 0) headers['content-length'] = String(context.contentLength);
    else delete headers['content-length'];
  }
  headers['x-request-id'] = context.requestId;
  if (context.trace) headers.traceparent = formatTraceparent(context.trace);
  if (!context.trace?.continued && headers.tracestate !== undefined) delete headers.tracestate;
  // One address, the one this gateway determined: upstreams trust the gateway, not what clients claim.
  headers['x-forwarded-for'] = context.client.ip;
  headers['x-forwarded-proto'] = context.client.protocol;
  headers['x-forwarded-host'] = context.client.host;
  return headers;
}

/**
 * Header lines the edge writes on every answer itself (the security headers), by lowercase name, as bytes:
 * an upstream line with the same name and value would only be written over by the edge's twin.
 */
export type EdgeOwnHeaders = ReadonlyMap<string, Buffer>;

export function edgeOwnHeaders(lines: ReadonlyArray<readonly [string, string]>): EdgeOwnHeaders {
  return new Map(lines.map(([name, value]) => [name.toLowerCase(), Buffer.from(value, 'latin1')]));
}

const NO_EDGE_HEADERS: EdgeOwnHeaders = new Map();

/**
 * The response headers passed back to the client, from undici's raw name/value list. Bytes are kept as
 * they came (latin1 both ways); a repeated header becomes a list, as Node writes it back line by line.
 * A line identical to one in `edgeOwn` is left to the edge's copy (the same bytes reach the client) unless
 * the upstream repeats that header with other values, in which case all of its lines are passed on.
 */
export function clientResponseHeadersFromRaw(
  raw: Buffer[],
  edgeOwn: EdgeOwnHeaders = NO_EDGE_HEADERS,
): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  // Both stay undefined for nearly every answer: allocated only when needed, as this runs per response.
  let connection: string[] | undefined;
  let leftToEdge: Set<string> | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as Buffer).toString('latin1').toLowerCase();
    const bytes = raw[i + 1] as Buffer;
    if (HOP_BY_HOP.has(name)) {
      if (name === 'connection') {
        connection = connection ?? [];
        connection.push(bytes.toString('latin1'));
      }
      continue;
    }
    const edgeCopy = edgeOwn.get(name);
    if (edgeCopy !== undefined) {
      if (edgeCopy.equals(bytes) && headers[name] === undefined) {
        leftToEdge = leftToEdge ?? new Set();
        leftToEdge.add(name);
        continue;
      }
      // The edge's copy would be replaced by this header's other lines: the skipped ones go first.
      if (leftToEdge?.delete(name)) headers[name] = edgeCopy.toString('latin1');
    }
    const value = bytes.toString('latin1');
    const existing = headers[name];
    if (existing === undefined) headers[name] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else headers[name] = [existing, value];
  }
  // Named by Connection: about the upstream's connection too.
  for (const name of connectionTokens(connection)) delete headers[name];
  return headers;
}

/**
 * An upstream's refusal of an upgrade, as raw name/value strings, for the client: its end-to-end headers
 * only, plus `Connection: close`. The body is passed on decoded (a chunked one de-chunked) and the client's
 * connection closed after it, so the upstream's Transfer-Encoding and connection headers no longer apply.
 */
export function refusalHeadersFromRaw(raw: readonly string[]): string[] {
  const named = new Set<string>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() === 'connection') {
      for (const token of connectionTokens(raw[i + 1])) named.add(token);
    }
  }
  const kept: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (HOP_BY_HOP.has(name) || named.has(name)) continue;
    kept.push(raw[i] as string, raw[i + 1] as string);
  }
  kept.push('Connection', 'close');
  return kept;
}
