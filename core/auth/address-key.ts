/**
 * The key a client address is counted under by the login limiter: an IPv4 address as it is, an
 * IPv6 address by its /64 (one subscriber or one LAN usually holds a whole /64, so counting each
 * address would give an attacker 2^64 fresh counters). IPv4-mapped IPv6 (`::ffff:10.0.0.1`) counts
 * as the IPv4 address.
 */
import { isIPv4, isIPv6 } from 'node:net'

export function addressKey(address: string): string {
  const bare = address.replace(/%.*$/, '')
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare)
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!
  if (!isIPv6(bare)) return address
  return `${expand(bare).slice(0, 4).join(':')}::/64`
}

/** The eight hextets of an IPv6 address, lower case, without leading zeros. */
function expand(address: string): string[] {
  let text = address.toLowerCase()
  // A trailing dotted quad is two hextets.
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number]
    text = text.slice(0, quad.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head, tail] = text.split('::') as [string, string | undefined]
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0')
  return [...left, ...zeros, ...right].map((h) => parseInt(h, 16).toString(16))
}
