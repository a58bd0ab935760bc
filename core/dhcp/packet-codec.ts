/**
 * DHCP/BOOTP wire format (RFC 2131/2132, RFC 3396 long options, option 52 overload).
 * decode() reads untrusted datagrams: every length is checked against the buffer before use and
 * anything inconsistent throws BP_ERR_DHCP_MALFORMED with the reason; nothing else is thrown.
 * Option values stay raw Buffers (copies, not views of the datagram); options.ts types them.
 */
import { BootpolicyError } from '../errors/bp-error.js'
import { ipFromBytes, ipToInt } from './ipv4.js'
import { Opt, type OptionMap } from './options.js'

export interface DhcpPacket {
  /** 1 = BOOTREQUEST (client), 2 = BOOTREPLY (server). */
  op: 1 | 2
  htype: number
  hlen: number
  hops: number
  xid: number
  secs: number
  /** Bit 15 (0x8000) is the broadcast flag. */
  flags: number
  ciaddr: string
  yiaddr: string
  siaddr: string
  giaddr: string
  /** The first `hlen` bytes of the 16-byte chaddr field. */
  chaddr: Buffer
  sname: string
  file: string
  /** Option 53, undefined for plain BOOTP. */
  messageType: number | undefined
  /** Options in the order first seen; repeated instances are concatenated (RFC 3396). */
  options: OptionMap
}

export const BROADCAST_FLAG = 0x8000
const MAGIC_COOKIE = 0x63825363
const HEADER = 236
const OPTIONS_START = HEADER + 4
/** BOOTP's minimum message size; some PXE ROMs drop shorter replies. */
const MIN_REPLY = 300
/** RFC 2131 guarantees 576-byte datagrams: 576 - 20 (IP) - 8 (UDP). */
export const DEFAULT_MAX_PAYLOAD = 548

function malformed(reason: string): never {
  throw new BootpolicyError('BP_ERR_DHCP_MALFORMED', { reason })
}

export function decode(buf: Uint8Array): DhcpPacket {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
  if (b.length < OPTIONS_START) malformed(`${b.length} bytes is shorter than the ${OPTIONS_START}-byte minimum`)
  if (b.readUInt32BE(HEADER) !== MAGIC_COOKIE) malformed('wrong magic cookie')
  const op = b[0]
  if (op !== 1 && op !== 2) malformed(`op ${op} is neither request nor reply`)
  const hlen = b[2]!
  if (hlen > 16) malformed(`hardware address length ${hlen} exceeds 16`)

  const options: OptionMap = new Map()
  const overload = parseOptions(b, OPTIONS_START, b.length, options, 'options', true)
  // RFC 2131 4.1: with overload, the file field is read before sname.
  if (overload === 1 || overload === 3) parseOptions(b, 108, 236, options, 'file', false)
  if (overload === 2 || overload === 3) parseOptions(b, 44, 108, options, 'sname', false)
  if (overload !== undefined && (overload < 1 || overload > 3)) malformed(`option 52 value ${overload} is not 1, 2 or 3`)

  const type = options.get(Opt.MESSAGE_TYPE)
  if (type !== undefined && type.length !== 1) malformed(`option 53 has length ${type.length}, expected 1`)
  return {
    op,
    htype: b[1]!,
    hlen,
    hops: b[3]!,
    xid: b.readUInt32BE(4),
    secs: b.readUInt16BE(8),
    flags: b.readUInt16BE(10),
    ciaddr: ipFromBytes(b, 12),
    yiaddr: ipFromBytes(b, 16),
    siaddr: ipFromBytes(b, 20),
    giaddr: ipFromBytes(b, 24),
    chaddr: Buffer.from(b.subarray(28, 28 + hlen)),
    sname: overload === 2 || overload === 3 ? '' : cString(b, 44, 108),
    file: overload === 1 || overload === 3 ? '' : cString(b, 108, 236),
    messageType: type?.[0],
    options,
  }
}

/** Parses options in [start, end); returns the option-52 value when `main` and present. */
function parseOptions(b: Buffer, start: number, end: number, into: OptionMap, area: string, main: boolean): number | undefined {
  let i = start
  let overload: number | undefined
  const pieces = new Map<number, Buffer[]>()
  while (i < end) {
    const code = b[i]!
    if (code === Opt.PAD) {
      i++
      continue
    }
    if (code === Opt.END) break
    if (i + 1 >= end) malformed(`option ${code} in ${area} has no length byte`)
    const len = b[i + 1]!
    if (i + 2 + len > end) malformed(`option ${code} in ${area} claims ${len} bytes, ${end - i - 2} remain`)
    const value = b.subarray(i + 2, i + 2 + len)
    if (code === Opt.OVERLOAD) {
      if (!main) malformed(`option 52 inside the ${area} field`)
      if (len !== 1) malformed(`option 52 has length ${len}, expected 1`)
      overload = value[0]
    }
    const list = pieces.get(code)
    if (list) list.push(value)
    else pieces.set(code, [value])
    i += 2 + len
  }
  for (const [code, list] of pieces) {
    const prior = into.get(code)
    into.set(code, Buffer.concat(prior ? [prior, ...list] : list))
  }
  return overload
}

function cString(b: Buffer, start: number, end: number): string {
  const nul = b.indexOf(0, start)
  return b.toString('utf8', start, nul === -1 || nul > end ? end : nul)
}

export interface EncodeLimits {
  /** Largest UDP payload the client accepts (option 57 minus IP/UDP headers). */
  maxPayload?: number
}

/**
 * Serializes a packet. Option 53 goes first (some ROMs expect it there), values over 255 bytes
 * are split (RFC 3396), the result is padded to 300 bytes. Throws BP_ERR_DHCP_MALFORMED when a
 * field does not fit, so a bad hook value fails one reply, not the service.
 */
export function encode(p: DhcpPacket, limits: EncodeLimits = {}): Buffer {
  const sname = Buffer.from(p.sname, 'utf8')
  const file = Buffer.from(p.file, 'utf8')
  if (sname.length > 63) malformed(`sname of ${sname.length} bytes does not fit in 64`)
  if (file.length > 127) malformed(`file of ${file.length} bytes does not fit in 128`)
  if (p.chaddr.length > 16) malformed(`chaddr of ${p.chaddr.length} bytes does not fit in 16`)

  const parts: Buffer[] = []
  const header = Buffer.alloc(OPTIONS_START)
  header[0] = p.op
  header[1] = p.htype
  header[2] = p.hlen
  header[3] = p.hops
  header.writeUInt32BE(p.xid >>> 0, 4)
  header.writeUInt16BE(p.secs & 0xffff, 8)
  header.writeUInt16BE(p.flags & 0xffff, 10)
  header.writeUInt32BE(ipToInt(p.ciaddr), 12)
  header.writeUInt32BE(ipToInt(p.yiaddr), 16)
  header.writeUInt32BE(ipToInt(p.siaddr), 20)
  header.writeUInt32BE(ipToInt(p.giaddr), 24)
  p.chaddr.copy(header, 28)
  sname.copy(header, 44)
  file.copy(header, 108)
  header.writeUInt32BE(MAGIC_COOKIE, HEADER)
  parts.push(header)

  const ordered = [...p.options].sort(([a], [b]) => Number(b === Opt.MESSAGE_TYPE) - Number(a === Opt.MESSAGE_TYPE))
  if (p.messageType !== undefined && !p.options.has(Opt.MESSAGE_TYPE)) ordered.unshift([Opt.MESSAGE_TYPE, Buffer.from([p.messageType])])
  for (const [code, value] of ordered) {
    if (code === Opt.PAD || code === Opt.END || code > 255 || code < 0) malformed(`option code ${code} cannot be encoded`)
    if (value.length === 0) {
      parts.push(Buffer.from([code, 0]))
      continue
    }
    for (let off = 0; off < value.length; off += 255) {
      const chunk = value.subarray(off, off + 255)
      parts.push(Buffer.from([code, chunk.length]), chunk)
    }
  }
  parts.push(Buffer.from([Opt.END]))
  let out = Buffer.concat(parts)
  if (out.length < MIN_REPLY) out = Buffer.concat([out, Buffer.alloc(MIN_REPLY - out.length)])
  const max = Math.max(DEFAULT_MAX_PAYLOAD, limits.maxPayload ?? DEFAULT_MAX_PAYLOAD)
  if (out.length > max) malformed(`encoded reply of ${out.length} bytes exceeds the client's ${max}-byte limit`)
  return out
}
