/**
 * Parse a packet that arrived on the TFTP listening port, strictly, before anything else sees it.
 *
 * Every packet from the network goes through here first, so this is the fuzzing surface: it never
 * throws, reads nothing past the buffer, and classifies each packet as one of
 *  - `read`: a well-formed RRQ, with its options validated and names lower-cased (RFC 2347 says
 *    option names are case-insensitive; the package compares them case-sensitively);
 *  - `write`: a WRQ, which this read-only service refuses;
 *  - `stray`: DATA, ACK, ERROR, OACK or a packet too short to carry an opcode. These are dropped
 *    without an answer: answering an ERROR with an ERROR is how two servers loop forever;
 *  - `malformed`: anything else, answered with a TFTP error.
 * `canonicalRrq` then rebuilds a clean RRQ for the package, so its parser only ever sees our output.
 */

export const OPCODE = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const

/** RFC 2347: a request, options included, fits in 512 bytes. */
export const MAX_REQUEST_BYTES = 512

export interface ReadRequest {
  kind: 'read'
  /** File name exactly as sent (printable ASCII; path checks come later). */
  file: string
  mode: 'octet' | 'netascii'
  /** Recognised, valid options only; invalid values are dropped (the client then gets the RFC 1350 default). */
  options: { blksize?: number; tsize?: true; windowsize?: number; rollover?: 0 | 1 }
}

export type ParsedPacket = ReadRequest | { kind: 'write' } | { kind: 'stray' } | { kind: 'malformed'; reason: string }

export function parseRequest(packet: Buffer): ParsedPacket {
  if (packet.length < 2) return { kind: 'stray' }
  const opcode = packet.readUInt16BE(0)
  if (opcode === OPCODE.WRQ) return { kind: 'write' }
  if (opcode >= OPCODE.DATA && opcode <= OPCODE.OACK) return { kind: 'stray' }
  if (opcode !== OPCODE.RRQ) return { kind: 'malformed', reason: 'unknown opcode' }
  if (packet.length > MAX_REQUEST_BYTES) return { kind: 'malformed', reason: 'request too long' }
  // Every field is NUL-terminated, so a well-formed request ends in NUL.
  if (packet[packet.length - 1] !== 0) return { kind: 'malformed', reason: 'unterminated string' }

  const fields: string[] = []
  let start = 2
  for (let i = 2; i < packet.length; i++) {
    const byte = packet[i] as number
    if (byte === 0) {
      fields.push(packet.toString('latin1', start, i))
      start = i + 1
    } else if (byte < 0x20 || byte > 0x7e) {
      // Printable ASCII only: control bytes and non-ASCII have no business in names or options.
      return { kind: 'malformed', reason: 'non-printable byte' }
    }
  }
  if (fields.length < 2) return { kind: 'malformed', reason: 'missing mode' }
  if (fields.length % 2 !== 0) return { kind: 'malformed', reason: 'option without value' }
  const [file, rawMode] = fields as [string, string]
  if (file.length === 0) return { kind: 'malformed', reason: 'empty file name' }
  const mode = rawMode.toLowerCase()
  // netascii is accepted but served byte for byte, as most boot servers do; mail is obsolete.
  if (mode !== 'octet' && mode !== 'netascii') return { kind: 'malformed', reason: 'unsupported mode' }

  const options: ReadRequest['options'] = {}
  const seen = new Set<string>()
  for (let i = 2; i < fields.length; i += 2) {
    const name = (fields[i] as string).toLowerCase()
    const value = fields[i + 1] as string
    // RFC 2347 leaves duplicates undefined; the first one wins so a later one cannot override it.
    if (seen.has(name)) continue
    seen.add(name)
    if (name === 'blksize') {
      const n = parseDecimal(value)
      if (n !== undefined && n >= 8 && n <= 65464) options.blksize = n
    } else if (name === 'tsize') {
      // In an RRQ the client sends 0; any decimal is tolerated, the server answers with the real size.
      if (parseDecimal(value) !== undefined) options.tsize = true
    } else if (name === 'windowsize') {
      const n = parseDecimal(value)
      if (n !== undefined && n >= 1 && n <= 65535) options.windowsize = n
    } else if (name === 'rollover') {
      if (value === '0' || value === '1') options.rollover = value === '0' ? 0 : 1
    }
    // timeout, utimeout and unknown options are ignored (not acknowledged), as RFC 2347 allows.
  }
  return { kind: 'read', file, mode, options }
}

/** Digits only, at most 10 of them: rejects `1e3`, `0x10`, `+5`, ` 5` and absurd lengths. */
function parseDecimal(value: string): number | undefined {
  if (!/^[0-9]{1,10}$/.test(value)) return undefined
  return Number(value)
}

/** A clean RRQ for the package: the canonical name, octet mode and only validated options. */
export function canonicalRrq(file: string, options: ReadRequest['options']): Buffer {
  const parts: string[] = [file, 'octet']
  if (options.blksize !== undefined) parts.push('blksize', String(options.blksize))
  if (options.tsize) parts.push('tsize', '0')
  if (options.windowsize !== undefined) parts.push('windowsize', String(options.windowsize))
  if (options.rollover !== undefined) parts.push('rollover', String(options.rollover))
  const body = Buffer.from(parts.map((p) => p + '\0').join(''), 'latin1')
  const packet = Buffer.alloc(2 + body.length)
  packet.writeUInt16BE(OPCODE.RRQ, 0)
  body.copy(packet, 2)
  return packet
}

/** An ERROR packet (opcode 5). Messages are ours, ASCII, never client input. */
export function errorPacket(code: number, message: string): Buffer {
  const text = Buffer.from(message, 'latin1')
  const packet = Buffer.alloc(5 + text.length)
  packet.writeUInt16BE(OPCODE.ERROR, 0)
  packet.writeUInt16BE(code, 2)
  text.copy(packet, 4)
  return packet
}
