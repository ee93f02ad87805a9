import { BlockList, isIPv4, isIPv6 } from 'node:net';

/**
 * Addresses an outbound call must not reach unless allow-listed: loopback, private, link-local (cloud
 * metadata lives at 169.254.169.254), carrier-grade NAT, multicast, documentation and reserved ranges.
 */
const INTERNAL = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  INTERNAL.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  // Site-local: deprecated, yet still routed inside some networks.
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  INTERNAL.addSubnet(network, prefix, 'ipv6');
}

/**
 * The IPv4 address inside an IPv6 one that carries it: IPv4-mapped (::ffff:a.b.c.d), NAT64
 * (64:ff9b::a.b.c.d), IPv4-compatible (::a.b.c.d, deprecated) or 6to4 (2002:aabb:ccdd::).
 */
export function embeddedIpv4(address: string): string | undefined {
  const sixToFour = /^2002:([0-9a-f]{1,4}):([0-9a-f]{1,4})(?::|$)/i.exec(address);
  if (sixToFour) return fromHexPair(sixToFour[1]!, sixToFour[2]!);
  const match = /^(?:::ffff:|64:ff9b::|::)(?:0:)?([0-9a-f.:]+)$/i.exec(address);
  if (!match) return undefined;
  const tail = match[1]!;
  if (isIPv4(tail)) return tail;
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(tail);
  return hex ? fromHexPair(hex[1]!, hex[2]!) : undefined;
}

function fromHexPair(highHex: string, lowHex: string): string {
  const high = Number.parseInt(highHex, 16);
  const low = Number.parseInt(lowHex, 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

export function isInternalAddress(address: string): boolean {
  if (isIPv4(address)) return INTERNAL.check(address, 'ipv4');
  if (!isIPv6(address)) return true;
  const v4 = embeddedIpv4(address);
  if (v4 !== undefined) return INTERNAL.check(v4, 'ipv4');
  return INTERNAL.check(address, 'ipv6');
}
