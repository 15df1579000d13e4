import { isIPv4, isIPv6 } from "node:net";

/**
 * Which IP addresses a webhook may never be sent to: everything that is not public unicast
 * (loopback, private, link-local incl. cloud metadata 169.254.169.254 / fd00:ec2::254,
 * CGNAT, unique-local, multicast, documentation, reserved), and IPv6 forms that embed such an
 * IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4).
 */
type Cidr = [prefix: number[], bits: number];

const V4_BLOCKED: Cidr[] = [
  [[0, 0, 0, 0], 8], // "this network"
  [[10, 0, 0, 0], 8],
  [[100, 64, 0, 0], 10], // CGNAT (also Alibaba's metadata 100.100.100.200)
  [[127, 0, 0, 0], 8],
  [[169, 254, 0, 0], 16], // link-local, cloud metadata
  [[172, 16, 0, 0], 12],
  [[192, 0, 0, 0], 24], // IETF assignments (Oracle's metadata 192.0.0.192)
  [[192, 0, 2, 0], 24],
  [[192, 88, 99, 0], 24],
  [[192, 168, 0, 0], 16],
  [[198, 18, 0, 0], 15],
  [[198, 51, 100, 0], 24],
  [[203, 0, 113, 0], 24],
  [[224, 0, 0, 0], 4], // multicast
  [[240, 0, 0, 0], 4], // reserved and broadcast
];

/** As 16-bit groups. */
const V6_BLOCKED: Cidr[] = [
  [[0, 0, 0, 0, 0, 0, 0, 0], 128], // unspecified
  [[0, 0, 0, 0, 0, 0, 0, 1], 128], // loopback
  [[0x0100, 0, 0, 0], 64], // discard
  [[0x2001, 0], 32], // Teredo: hides an IPv4 address
  [[0x2001, 0x0db8], 32], // documentation
  [[0x3fff, 0], 20], // documentation
  [[0xfc00], 7], // unique-local (incl. AWS metadata fd00:ec2::254)
  [[0xfe80], 10], // link-local
  [[0xfec0], 10], // site-local (deprecated)
  [[0xff00], 8], // multicast
];

function inCidr(value: number[], [prefix, bits]: Cidr, width: number): boolean {
  for (let i = 0; i < prefix.length && bits > 0; i++) {
    const take = Math.min(width, bits);
    const mask = take === width ? (1 << width) - 1 : ((1 << take) - 1) << (width - take);
    if ((value[i] & mask) !== (prefix[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

const v4Bytes = (ip: string) => ip.split(".").map(Number);

/** Eight 16-bit groups of an IPv6 address in any textual form (``::``, zone id, dotted IPv4 tail). */
export function ipv6Groups(ip: string): number[] {
  let text = ip.toLowerCase().replace(/%.*$/, "");
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = v4Bytes(dotted[1]);
    text = text.slice(0, -dotted[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const parse = (s: string | undefined) => (s ? s.split(":").map((g) => parseInt(g, 16)) : []);
  const left = parse(head);
  const right = parse(tail);
  const zeros = tail === undefined ? [] : new Array<number>(8 - left.length - right.length).fill(0);
  return [...left, ...zeros, ...right];
}

/** The IPv4 address an IPv6 address stands for, when it embeds one. */
function embeddedV4(g: number[]): number[] | null {
  const tail = [g[6] >> 8, g[6] & 0xff, g[7] >> 8, g[7] & 0xff];
  const zeroTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroTo(5) && g[5] === 0xffff) return tail; // ::ffff:a.b.c.d (IPv4-mapped)
  if (zeroTo(6) && !(g[6] === 0 && g[7] <= 1)) return tail; // ::a.b.c.d (IPv4-compatible)
  if (g[0] === 0x64 && g[1] === 0xff9b) return tail; // 64:ff9b::a.b.c.d (NAT64)
  if (g[0] === 0x2002) return [g[1] >> 8, g[1] & 0xff, g[2] >> 8, g[2] & 0xff]; // 6to4
  return null;
}

const blockedV4 = (bytes: number[]) => V4_BLOCKED.some((cidr) => inCidr(bytes, cidr, 8));

/** True when `ip` (an IPv4 or IPv6 literal) is a public unicast address a webhook may reach. */
export function isPublicAddress(ip: string): boolean {
  if (isIPv4(ip)) return !blockedV4(v4Bytes(ip));
  const bare = ip.replace(/^\[|\]$/g, "");
  if (!isIPv6(bare.replace(/%.*$/, ""))) return false;
  const groups = ipv6Groups(bare);
  const v4 = embeddedV4(groups);
  if (v4) return !blockedV4(v4);
  return !V6_BLOCKED.some((cidr) => inCidr(groups, cidr, 16));
}

/** True for loopback addresses in either family (allowed in local mode). */
export function isLoopbackAddress(ip: string): boolean {
  if (isIPv4(ip)) return v4Bytes(ip)[0] === 127;
  const bare = ip.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  if (!isIPv6(bare)) return false;
  const g = ipv6Groups(bare);
  const v4 = embeddedV4(g);
  return v4 ? v4[0] === 127 : g.slice(0, 7).every((x) => x === 0) && g[7] === 1;
}
