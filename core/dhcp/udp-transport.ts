/**
 * UDP sockets for the DHCP service. Node has no SO_BINDTODEVICE and no IP_PKTINFO, so the sockets
 * bind an address (0.0.0.0 by default: a socket bound to a unicast address never sees the
 * broadcast DISCOVERs) and `interface` works as a filter on the sender's address instead. What that
 * cannot tell apart is documented in docs/reference/dhcp.md.
 */
import dgram from 'node:dgram'
import { BootpolicyError } from '../errors/bp-error.js'
import type { ResolvedDhcpConfig } from './config-schema.js'
import { sameSubnet } from './ipv4.js'
import { ipv4Addresses } from './interface-addresses.js'

export interface Rinfo {
  readonly address: string
  readonly port: number
}

/** Binds one UDP socket with broadcast enabled; a bind failure becomes BP_ERR_DHCP_BIND. */
export function bindUdp(address: string, port: number, onMessage: (buf: Buffer, from: Rinfo) => void, reuseAddr = true): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr })
    const onError = (cause: Error): void => {
      socket.close()
      reject(new BootpolicyError('BP_ERR_DHCP_BIND', { address, port }, { cause }))
    }
    socket.once('error', onError)
    socket.on('message', (buf, rinfo) => onMessage(buf, { address: rinfo.address, port: rinfo.port }))
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', onError)
      // Replies to clients without an address go to 255.255.255.255: that needs SO_BROADCAST.
      socket.setBroadcast(true)
      resolve(socket)
    })
  })
}

export interface PortSockets {
  /** Every socket bound for the port; all of them deliver requests. */
  readonly sockets: dgram.Socket[]
  /** The socket replies leave from. */
  readonly send: dgram.Socket
}

/**
 * Sockets for one port. The wildcard socket receives the broadcasts. Linux routes a datagram to
 * 255.255.255.255 out of the interface that owns the socket's bound source address, and needs a
 * route otherwise (an isolated boot LAN has none), so replies leave from a second socket bound to
 * the server address itself (SO_REUSEADDR on both; that socket also receives unicasts to it).
 * Because SO_REUSEADDR would let two DHCP servers share the port silently, a socket without it is
 * bound first to detect a port already in use.
 */
export async function bindPort(listenAddress: string, serverAddress: string, port: number, onMessage: (buf: Buffer, from: Rinfo, socket: dgram.Socket) => void): Promise<PortSockets> {
  const probe = await bindUdp(listenAddress, port, () => undefined, false)
  await closeUdp(probe)
  const sockets: dgram.Socket[] = []
  const wildcard: dgram.Socket = await bindUdp(listenAddress, port, (buf, from) => onMessage(buf, from, wildcard))
  sockets.push(wildcard)
  if (listenAddress !== '0.0.0.0' || !isLocalAddress(serverAddress)) return { sockets, send: wildcard }
  try {
    const own: dgram.Socket = await bindUdp(serverAddress, port, (buf, from) => onMessage(buf, from, own))
    sockets.push(own)
    return { sockets, send: own }
  } catch (err) {
    await Promise.all(sockets.map(closeUdp))
    throw err
  }
}

function isLocalAddress(ip: string): boolean {
  return ipv4Addresses().some((a) => a.address === ip)
}

export function closeUdp(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve())
    } catch {
      resolve() // already closed
    }
  })
}

export interface ServerIdentity {
  /** Server identifier (option 54) and default next-server. */
  readonly address: string
  /** The configured interface's network, when `interface` is set: the sender filter. */
  readonly filter?: { readonly address: string; readonly netmask: string }
}

/** serverAddress if given, else the interface's first IPv4 address, else the host's first one. */
export function resolveIdentity(config: ResolvedDhcpConfig): ServerIdentity {
  const all = ipv4Addresses()
  if (config.interface !== undefined) {
    const entry = all.find((a) => a.interface === config.interface)
    if (!entry) {
      throw new BootpolicyError('BP_ERR_DHCP_BIND', { address: `interface ${config.interface} (it does not exist or has no IPv4 address)`, port: config.ports.server })
    }
    return {
      address: config.serverAddress ?? entry.address,
      filter: { address: entry.address, netmask: entry.netmask },
    }
  }
  if (config.serverAddress !== undefined) return { address: config.serverAddress }
  const entry = all.find((a) => !a.internal)
  if (entry) return { address: entry.address }
  throw new BootpolicyError('BP_ERR_DHCP_BIND', { address: 'any interface (no IPv4 address; set dhcp.serverAddress)', port: config.ports.server })
}

/**
 * Sender filter for `interface`: relayed packets pass (the responder checks giaddr), packets from
 * 0.0.0.0 pass (a client without an address cannot be placed), others must come from the
 * interface's subnet.
 */
export function acceptsSender(identity: ServerIdentity, from: Rinfo, giaddr: string): boolean {
  const f = identity.filter
  if (!f || giaddr !== '0.0.0.0' || from.address === '0.0.0.0') return true
  return sameSubnet(from.address, f.address, f.netmask)
}
