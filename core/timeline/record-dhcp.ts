/**
 * Timeline events of DHCP: each client message and each reply, with the options that matter for
 * booting (arch, user class, iPXE or not); an ACK ties the leased address to the MAC, so that
 * /boot.ipxe, /files and TFTP requests from that address land on the machine's timeline.
 */
import type { DhcpClientFacts } from '../dhcp/dhcp-service.js'
import type { Timeline } from './timeline.js'

export function recordDhcp(
  timeline: Timeline,
  p: { readonly facts: DhcpClientFacts; readonly direction: 'in' | 'out'; readonly type: string; readonly yiaddr?: string; readonly file?: string },
): void {
  const f = p.facts
  if (p.direction === 'out') {
    if (p.type === 'ACK' && p.yiaddr && p.yiaddr !== '0.0.0.0') timeline.learnIp(p.yiaddr, f.mac)
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
