/**
 * Option negotiation for a read (RFC 2347 OACK, 2348 blksize, 2349 tsize, 7440 windowsize,
 * rollover): what the client asked for, capped by the service's limits, and the OACK that says so.
 * An option not granted is simply left out (RFC 2347 lets a server decline any option); when
 * nothing is granted no OACK is sent and data starts at once, as RFC 1350 servers do. tsize is
 * declined for an empty file: curl (7.88 at least) rejects `tsize 0` and fails the download.
 */
import { OPCODE, type ReadRequest } from './parse-request.js'

export interface Negotiated {
  readonly blksize: number
  readonly windowsize: number
  /** Block number after 65535: 0 (the common default) or 1. */
  readonly rollover: 0 | 1
  /** The OACK to send first, or undefined when no option was granted. */
  readonly oack: Buffer | undefined
}

export function negotiate(requested: ReadRequest['options'], size: number, limits: { blksizeMax: number; windowsizeMax: number }): Negotiated {
  const granted: [string, string][] = []
  let blksize = 512
  let windowsize = 1
  if (requested.blksize !== undefined) {
    blksize = Math.min(requested.blksize, limits.blksizeMax)
    granted.push(['blksize', String(blksize)])
  }
  if (requested.tsize && size > 0) granted.push(['tsize', String(size)])
  if (requested.windowsize !== undefined) {
    windowsize = Math.min(requested.windowsize, limits.windowsizeMax)
    granted.push(['windowsize', String(windowsize)])
  }
  if (requested.rollover !== undefined) granted.push(['rollover', String(requested.rollover)])
  const rollover = requested.rollover ?? 0
  if (granted.length === 0) return { blksize, windowsize, rollover, oack: undefined }
  const body = Buffer.from(granted.map(([k, v]) => `${k}\0${v}\0`).join(''), 'latin1')
  const oack = Buffer.alloc(2 + body.length)
  oack.writeUInt16BE(OPCODE.OACK, 0)
  body.copy(oack, 2)
  return { blksize, windowsize, rollover, oack }
}
