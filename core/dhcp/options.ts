/**
 * DHCP option codes and typed readers/writers for the raw option values the codec produces.
 * Readers never throw: a client-supplied option of the wrong size reads as undefined, because one
 * odd option must not cost the client its boot.
 */
import { ipFromBytes, ipToBytes } from './ipv4.js'

export const Opt = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS: 6,
  HOSTNAME: 12,
  DOMAIN: 15,
  BROADCAST: 28,
  NTP: 42,
  VENDOR_SPECIFIC: 43,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAM_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  VENDOR_CLASS: 60,
  CLIENT_ID: 61,
  TFTP_SERVER: 66,
  BOOTFILE: 67,
  USER_CLASS: 77,
  CLIENT_ARCH: 93,
  CLIENT_NDI: 94,
  CLIENT_UUID: 97,
  IPXE_ENCAP: 175,
  END: 255,
} as const

/** iPXE's sub-option inside 175: "no-pxedhcp", do not wait for proxyDHCP offers. */
export const IPXE_NO_PXEDHCP = 176
/** iPXE's sub-option inside 175: "priority" (int8) of the settings block the packet becomes. */
export const IPXE_PRIORITY = 1

export const MessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const
export type MessageTypeCode = (typeof MessageType)[keyof typeof MessageType]

const MESSAGE_NAMES: Readonly<Record<number, string>> = {
  1: 'discover',
  2: 'offer',
  3: 'request',
  4: 'decline',
  5: 'ack',
  6: 'nak',
  7: 'release',
  8: 'inform',
}

export function messageTypeName(code: number | undefined): string {
  return code === undefined ? 'bootp' : (MESSAGE_NAMES[code] ?? `type-${code}`)
}

/** Options a server decides itself; a decideBoot hook may not override them. */
export const SERVER_OWNED_OPTIONS: ReadonlySet<number> = new Set([
  Opt.PAD,
  Opt.END,
  Opt.OVERLOAD,
  Opt.MESSAGE_TYPE,
  Opt.SERVER_ID,
  Opt.REQUESTED_IP,
  Opt.LEASE_TIME,
  Opt.RENEWAL_TIME,
  Opt.REBINDING_TIME,
  Opt.CLIENT_ID,
  Opt.PARAM_LIST,
  Opt.MAX_MESSAGE_SIZE,
])

export type OptionMap = Map<number, Buffer>

export function readU8(options: OptionMap, code: number): number | undefined {
  const v = options.get(code)
  return v?.length === 1 ? v[0] : undefined
}

export function readU16(options: OptionMap, code: number): number | undefined {
  const v = options.get(code)
  return v && v.length >= 2 ? v.readUInt16BE(0) : undefined
}

export function readIp(options: OptionMap, code: number): string | undefined {
  const v = options.get(code)
  return v?.length === 4 ? ipFromBytes(v) : undefined
}

/** Text option with trailing NULs removed (some ROMs NUL-terminate); latin1 keeps every byte visible. */
export function readText(options: OptionMap, code: number): string | undefined {
  const v = options.get(code)
  if (!v || v.length === 0) return undefined
  let end = v.length
  while (end > 0 && v[end - 1] === 0) end--
  return end === 0 ? undefined : v.subarray(0, end).toString('latin1')
}

/**
 * Option 77 (user class). RFC 3004 encodes a list of length-prefixed strings, but iPXE sends its raw
 * 4 bytes `iPXE`. A value is read as RFC 3004 only when its length prefixes tile it exactly.
 */
export function readUserClasses(options: OptionMap): string[] {
  const v = options.get(Opt.USER_CLASS)
  if (!v || v.length === 0) return []
  const entries: string[] = []
  let i = 0
  while (i < v.length) {
    const len = v[i]!
    if (len === 0 || i + 1 + len > v.length) return [v.toString('latin1')]
    entries.push(v.subarray(i + 1, i + 1 + len).toString('latin1'))
    i += 1 + len
  }
  return entries
}

export function u8(value: number): Buffer {
  return Buffer.from([value & 255])
}

export function u32(value: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(value >>> 0)
  return b
}

export function ips(list: readonly string[]): Buffer {
  return Buffer.concat(list.map(ipToBytes))
}

export function text(value: string): Buffer {
  return Buffer.from(value, 'utf8')
}

/** Sub-options (code, length, value) followed by END, as options 43 and 175 carry them. */
export function encapsulate(sub: ReadonlyArray<readonly [number, Buffer]>): Buffer {
  const parts: Buffer[] = []
  for (const [code, value] of sub) parts.push(Buffer.from([code, value.length]), value)
  parts.push(Buffer.from([Opt.END]))
  return Buffer.concat(parts)
}
