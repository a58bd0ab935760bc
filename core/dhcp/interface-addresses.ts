/**
 * IPv4 addresses of the host's interfaces. os.networkInterfaces() leaves out interfaces without
 * carrier (a boot NIC whose cable or switch is not up yet, an empty bridge), so a server started
 * before its link would refuse to start; iproute2 (`ip -j -4 addr`) lists them all on Linux.
 */
import { execFileSync } from 'node:child_process'
import { networkInterfaces } from 'node:os'

export interface Ipv4Address {
  readonly interface: string
  readonly address: string
  readonly netmask: string
  readonly internal: boolean
}

function fromNode(): Ipv4Address[] {
  return Object.entries(networkInterfaces()).flatMap(([name, list]) =>
    (list ?? []).filter((a) => a.family === 'IPv4').map((a) => ({ interface: name, address: a.address, netmask: a.netmask, internal: a.internal })),
  )
}

function fromIproute(): Ipv4Address[] {
  try {
    const out = execFileSync('ip', ['-j', '-4', 'addr', 'show'], { encoding: 'utf8', timeout: 2000, stdio: ['ignore', 'pipe', 'ignore'] })
    const links = JSON.parse(out) as { ifname: string; flags?: string[]; addr_info?: { local: string; prefixlen: number }[] }[]
    return links.flatMap((l) => (l.addr_info ?? []).map((a) => ({ interface: l.ifname, address: a.local, netmask: prefixToMask(a.prefixlen), internal: (l.flags ?? []).includes('LOOPBACK') })))
  } catch {
    return [] // no iproute2: what Node sees is all there is
  }
}

export function prefixToMask(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 0xff).join('.')
}

/** Every IPv4 address, including those of interfaces that have no carrier yet. */
export function ipv4Addresses(): Ipv4Address[] {
  const seen = fromNode()
  const extra = fromIproute().filter((a) => !seen.some((s) => s.interface === a.interface && s.address === a.address))
  return [...seen, ...extra]
}
