import { BlockList, isIP, isIPv4 } from 'node:net';
import { embeddedIpv4, isInternalAddress } from './address-ranges.ts';

export type EgressRefusal = 'scheme' | 'credentials' | 'internal_address' | 'invalid_url';

/** An outbound call refused by the egress policy; `reason` is stable, `message` is for people. */
export class EgressDeniedError extends Error {
  readonly code = 'EGRESS_DENIED';
  constructor(
    readonly reason: EgressRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'EgressDeniedError';
  }
}

/**
 * PARLEY_EGRESS_ALLOWLIST: host names (exact, or `*.example.com` for its subdomains), IP addresses and
 * CIDR ranges that outbound calls may reach although they are internal. A listed name is trusted whatever
 * it resolves to (an operator's own `ollama` service); a listed address or range only for those addresses.
 */
export class EgressPolicy {
  private readonly names = new Set<string>();
  private readonly suffixes: string[] = [];
  private readonly addresses = new BlockList();

  constructor(allowlist: readonly string[]) {
    for (const raw of allowlist) {
      const entry = raw
        .trim()
        .toLowerCase()
        .replace(/^\[|\]$/g, '');
      if (!entry) continue;
      const cidr = /^(.+)\/(\d{1,3})$/.exec(entry);
      if (cidr && isIP(cidr[1]!)) {
        const type = isIPv4(cidr[1]!) ? 'ipv4' : 'ipv6';
        this.addresses.addSubnet(cidr[1]!, Number(cidr[2]), type);
      } else if (isIP(entry)) {
        this.addresses.addAddress(entry, isIPv4(entry) ? 'ipv4' : 'ipv6');
      } else if (entry.startsWith('*.')) {
        this.suffixes.push(entry.slice(1));
      } else {
        this.names.add(entry);
      }
    }
  }

  /** True when the host name itself is allow-listed (then its addresses are not checked). */
  trustsName(hostname: string): boolean {
    const name = normalizeHost(hostname);
    return this.names.has(name) || this.suffixes.some((suffix) => name.endsWith(suffix));
  }

  /** True when an address may be reached: public, or internal but allow-listed. */
  allowsAddress(address: string): boolean {
    if (!isInternalAddress(address)) return true;
    const v4 = isIPv4(address) ? address : embeddedIpv4(address);
    if (v4 !== undefined) return this.addresses.check(v4, 'ipv4');
    return this.addresses.check(address, 'ipv6');
  }

  /**
   * What can be known without DNS: the scheme, no credentials in the URL, and an IP-literal host.
   * Returns the host name still to resolve, or undefined when there is nothing left to check.
   */
  checkStatic(rawUrl: string): string | undefined {
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      throw new EgressDeniedError('invalid_url', 'is not a valid URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new EgressDeniedError('scheme', 'must be an http:// or https:// URL');
    }
    if (url.username || url.password) {
      throw new EgressDeniedError('credentials', 'must not carry credentials; set apiKey instead');
    }
    const host = normalizeHost(url.hostname);
    if (this.trustsName(host)) return undefined;
    if (isIP(host)) {
      this.checkAddress(host, host);
      return undefined;
    }
    return host;
  }

  checkAddress(address: string, host: string): void {
    if (!this.allowsAddress(address)) {
      throw new EgressDeniedError(
        'internal_address',
        `${host} is a loopback, private or link-local address (${address}) not listed in PARLEY_EGRESS_ALLOWLIST`,
      );
    }
  }
}

export function normalizeHost(hostname: string): string {
  return hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
}
