/**
 * Timeline events of DHCP: each client message and each reply, with the options that matter for
 * booting (arch, user class, iPXE or not). An ACK with an address leases it to the MAC for the lease
 * time; a proxyDHCP reply to a request sent from its own ciaddr is that address's claim by the MAC.
 * Either way /boot.ipxe, /files and TFTP requests from that address land on the machine's timeline.
 */
import type { DhcpPacketEvent } from '../dhcp/dhcp-service.js'
import type { Timeline } from './timeline.js'

export function recordDhcp(timeline: Timeline, p: DhcpPacketEvent): void {
  const f = p.facts
  if (p.direction === 'out') {
    const leased = p.yiaddr && p.yiaddr !== '0.0.0.0' ? p.yiaddr : undefined
    // An ACK without option 51 binds for as long as a claim does.
    if (p.type === 'ACK' && leased) timeline.learnIp(leased, f.mac, 'lease', p.leaseSeconds ? p.leaseSeconds * 1000 : undefined)
    // A proxy reply (no yiaddr): the client said its address, and the request came from it.
    else if (!leased && f.ciaddr && f.ciaddr === p.from) timeline.learnIp(f.ciaddr, f.mac, 'claim')
    timeline.record({ mac: f.mac }, 'dhcp', p.type, { ...(p.yiaddr && p.yiaddr !== '0.0.0.0' && { yiaddr: p.yiaddr }), ...(p.file && { bootfile: p.file }) })
    return
  }
  timeline.record(
    { mac: f.mac },
    'dhcp',
    p.type,
    { arch: f.arch, archCode: f.clientArchCode, userClass: f.userClass, ipxe: f.isIpxe, pxe: f.isPxe, httpBoot: f.isHttpBoot, clientId: f.clientId, relayed: f.relayed },
    (s) => {
      s.arch = f.arch
      if (f.uuid) s.uuid = f.uuid
      if (f.hostname) s.hostname = f.hostname.slice(0, 64)
    },
  )
}
