/**
 * IPv4 addresses as unsigned 32-bit integers. The lease pool, subnet checks and the
 * codec all work on numbers; strings only appear at the edges (config, logs, state file).
 */

const DOTTED = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/

/** The pattern the config schema uses for IPv4 fields (no ajv-formats dependency). */
export const IPV4_PATTERN = DOTTED.source

export function isIpv4(text: string): boolean {
  return DOTTED.test(text)
}

/** `10.0.0.1` → 167772161. Throws on anything that is not a dotted quad. */
export function ipToInt(text: string): number {
  if (!DOTTED.test(text)) throw new TypeError(`not an IPv4 address: ${text}`)
  const [a, b, c, d] = text.split('.').map(Number) as [number, number, number, number]
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0
}

export function intToIp(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`
}

/** Reads 4 bytes at `offset` (the caller has bounds-checked) as a dotted quad. */
export function ipFromBytes(buf: Uint8Array, offset = 0): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`
}

export function ipToBytes(text: string): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(ipToInt(text))
  return b
}

/** True when `ip` and `other` share the network defined by `mask`. */
export function sameSubnet(ip: string, other: string, mask: string): boolean {
  const m = ipToInt(mask)
  return (ipToInt(ip) & m) >>> 0 === (ipToInt(other) & m) >>> 0
}

/** A mask is valid when its one bits are contiguous from the top (255.255.254.0 yes, 255.0.255.0 no). */
export function isContiguousMask(mask: string): boolean {
  const inverted = ~ipToInt(mask) >>> 0
  return (inverted & (inverted + 1)) === 0
}

export function broadcastOf(ip: string, mask: string): string {
  return intToIp((ipToInt(ip) | ~ipToInt(mask)) >>> 0)
}
