/**
 * IPv4 addresses as unsigned 32-bit integers. The lease pool, subnet checks and the
 * codec all work on numbers; strings only appear at the edges (config, logs, state file).
 */

const DOTTED = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/

/** The pattern the config schema uses for IPv4 fields (no ajv-formats dependency). */
export const IPV4_PATTERN = DOTTED.source

export function isIpv4(text: string): boolean {
  return parseDotted(text) >= 0
}

/** `10.0.0.1` → 167772161. Throws on anything that is not a dotted quad. */
export function ipToInt(text: string): number {
  const n = parseDotted(text)
  if (n < 0) throw new TypeError(`not an IPv4 address: ${text}`)
  return n
}

/**
 * The dotted quad as a number, or -1: the same language as DOTTED (no leading zeros, 0–255), by
 * hand, because lease decisions convert addresses many times per packet and the regex plus split
 * showed in the DORA profile.
 */
function parseDotted(text: string): number {
  const len = text.length
  if (len < 7 || len > 15) return -1
  let value = 0
  let octet = 0
  let digits = 0
  let dots = 0
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i)
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1
      value = value * 256 + octet
      octet = 0
      digits = 0
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1 // leading zero
      octet = octet * 10 + (c - 48)
      if (++digits > 3 || octet > 255) return -1
    } else {
      return -1
    }
  }
  if (dots !== 3 || digits === 0) return -1
  return value * 256 + octet
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
