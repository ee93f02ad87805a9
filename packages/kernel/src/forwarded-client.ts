import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';

/** PARLEY_TRUST_PROXY: every peer, none, or the addresses and CIDRs (proxy-addr's names too) of the proxies. */
export type TrustProxySetting = boolean | string[];

/** Whether the address at `hop` (0: the socket's peer) is a proxy whose X-Forwarded-* is believed. */
export type ProxyTrust = (address: string, hop: number) => boolean;

/** The client of a request as this process determines it, to be passed on as X-Forwarded-*. */
export interface ForwardedClient {
  ip: string;
  protocol: string;
  host: string;
}

/**
 * The one trust function of a process: Fastify is given this very function, and the requests it never
 * sees (WebSocket upgrades) are judged by it too, so both believe the same peers.
 */
export function compileProxyTrust(setting: TrustProxySetting): ProxyTrust {
  if (setting === true) return () => true;
  if (setting === false) return () => false;
  return proxyAddr.compile(setting);
}

/** A repeated header arrives joined with commas; the nearest proxy appended the last entry. */
function lastEntry(value: string): string {
  const comma = value.lastIndexOf(',');
  return (comma === -1 ? value : value.slice(comma + 1)).trim();
}

/**
 * Fastify's request.ip, request.protocol and request.host for a raw request, by Fastify's own rules (its
 * request.js) and proxy-addr, so a request outside Fastify is described exactly as one inside it would be:
 * X-Forwarded-For is walked back while its hops are trusted; X-Forwarded-Proto and -Host are believed only
 * from a trusted peer. A test holds the two to agreement.
 */
export function forwardedClient(request: IncomingMessage, trust: ProxyTrust): ForwardedClient {
  const socket = request.socket;
  const peerTrusted = trust(socket.remoteAddress ?? '', 0);
  const addresses = proxyAddr.all(request, trust);
  const forwardedProto = request.headers['x-forwarded-proto'];
  const forwardedHost = request.headers['x-forwarded-host'];
  const encrypted = 'encrypted' in socket && socket.encrypted === true;
  return {
    ip: addresses.at(-1) ?? '',
    protocol:
      peerTrusted && typeof forwardedProto === 'string' && forwardedProto !== ''
        ? lastEntry(forwardedProto)
        : encrypted
          ? 'https'
          : 'http',
    host:
      peerTrusted && typeof forwardedHost === 'string' && forwardedHost !== ''
        ? lastEntry(forwardedHost)
        : (request.headers.host ?? ''),
  };
}
