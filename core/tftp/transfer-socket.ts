/**
 * The UDP socket of one transfer (its "TID" in RFC 1350 terms): bound to an ephemeral port on the
 * service's address (not 0.0.0.0, so a service on loopback or on one interface opens no ports on
 * the others) and connected to the client's address and port. Connected, the kernel hands it only
 * that client's datagrams — a third party cannot abort or steer a transfer by guessing its port
 * (its packets are dropped; RFC 1350's ERROR 5 to it is not sent) — and each send skips the
 * per-datagram address lookup. An ICMP "port unreachable" from a vanished client surfaces as an
 * 'error' on the socket, which ends the transfer early instead of after every retry.
 */
import dgram, { type Socket } from 'node:dgram'

export function createTransferSocket(family: 4 | 6, address: string, client: { address: string; port: number }): { socket: Socket; ready: Promise<void> } {
  const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4')
  const ready = new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.bind({ port: 0, address, exclusive: true }, () => {
      socket.connect(client.port, client.address, () => {
        socket.off('error', reject)
        resolve()
      })
    })
  })
  return { socket, ready }
}
