/**
 * The UDP socket of one transfer (its "TID" in RFC 1350 terms), constrained in two ways the npm
 * `tftp` package does not do on its own:
 *
 * - It binds to the service's address, not 0.0.0.0, so a service on loopback (or on one interface)
 *   does not open ephemeral ports on every interface. The package calls `bind(0, null)` itself, and
 *   dgram's `send` on an unbound socket binds implicitly; both go through the instance's `bind`,
 *   which we override to pin the address.
 * - It only hands packets from the transfer's own client (address and port) to the package. Anyone
 *   else gets ERROR 5 "Unknown transfer ID" and the transfer carries on (RFC 1350 §4), so a third
 *   party cannot abort or steer a transfer by guessing its port.
 */
import dgram, { type RemoteInfo, type Socket } from 'node:dgram'
import { errorPacket } from './parse-request.js'

const UNKNOWN_TID = errorPacket(5, 'Unknown transfer ID')

export function createTransferSocket(family: 4 | 6, address: string, client: RemoteInfo): Socket {
  const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4')
  const originalBind = socket.bind.bind(socket) as (options: dgram.BindOptions, callback?: () => void) => void
  // Whatever the caller asks for, bind an ephemeral port on the service address.
  socket.bind = function pinnedBind(...args: unknown[]): Socket {
    const callback = args.find((a): a is () => void => typeof a === 'function')
    originalBind({ port: 0, address, exclusive: true }, callback)
    return socket
  } as Socket['bind']

  const originalEmit = socket.emit.bind(socket) as (event: string | symbol, ...args: unknown[]) => boolean
  socket.emit = function filteredEmit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'message') {
      const from = args[1] as RemoteInfo
      if (from.address !== client.address || from.port !== client.port) {
        socket.send(UNKNOWN_TID, from.port, from.address)
        return true
      }
      // The package's handler reads an opcode unconditionally; a 0- or 1-byte datagram would throw.
      if ((args[0] as Buffer).length < 4) return true
    }
    return originalEmit(event, ...args)
  } as Socket['emit']
  return socket
}
