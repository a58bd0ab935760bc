/**
 * The contract between the UDP transport and the two responders (full, proxy): one decoded
 * request in, at most one reply out. Responders never touch sockets, so they are testable and
 * the transport owns all of "where does this go".
 */
import type { Logger } from 'pino'
import type { DhcpClientFacts } from './client-facts.js'
import type { DhcpPacket } from './packet-codec.js'
import type { Destination } from './reply-builder.js'
import { readU16, Opt } from './options.js'

export interface Incoming {
  readonly packet: DhcpPacket
  readonly facts: DhcpClientFacts
  /** Sender address and port as the socket saw them. */
  readonly from: Destination
  /** The local port it arrived on: the server port (67) or the PXE port (4011). */
  readonly localPort: number
}

export interface Outgoing {
  readonly packet: DhcpPacket
  readonly to: Destination
  /** Largest UDP payload the client accepts, from its option 57. */
  readonly maxPayload: number
}

export type Responder = (msg: Incoming, log: Logger) => Promise<Outgoing | undefined>

/** Option 57 minus the IP and UDP headers (it counts the whole IP datagram). */
export function maxPayloadOf(p: DhcpPacket): number {
  const max = readU16(p.options, Opt.MAX_MESSAGE_SIZE)
  return max === undefined ? 548 : Math.min(max, 65535) - 28
}
