/**
 * Builds replies (the header fields RFC 2131 table 3 prescribes, plus boot information) and
 * decides where each reply goes (RFC 2131 4.1). Shared by the full and the proxy responder.
 */
import type { BootChoice } from './boot-file.js'
import { BROADCAST_FLAG, type DhcpPacket } from './packet-codec.js'
import { encapsulate, IPXE_PRIORITY, Opt, text, type OptionMap } from './options.js'
import { ipToBytes } from './ipv4.js'

const ZERO = '0.0.0.0'

export interface ReplySpec {
  readonly messageType: number
  readonly serverAddress: string
  /** Address offered/acknowledged; 0.0.0.0 for proxy replies, INFORM and NAK. */
  readonly yiaddr?: string
  /** Copy ciaddr from the request (ACK to a renewal or INFORM). */
  readonly keepCiaddr?: boolean
  readonly boot?: BootChoice
  /** Options in the order they should appear after 53 and 54. */
  readonly options?: OptionMap
}

export function buildReply(req: DhcpPacket, spec: ReplySpec): DhcpPacket {
  const options: OptionMap = new Map([[Opt.SERVER_ID, ipToBytes(spec.serverAddress)]])
  for (const [code, value] of spec.options ?? []) options.set(code, value)
  let siaddr = ZERO
  let file = ''
  const boot = spec.boot
  if (boot?.bootfile !== undefined) {
    siaddr = boot.nextServer
    const requested = req.options.get(Opt.PARAM_LIST) ?? Buffer.alloc(0)
    const fits = Buffer.byteLength(boot.bootfile, 'utf8') <= 127
    if (fits) file = boot.bootfile
    // The file field is what PXE ROMs read; option 67 is for clients that ask for it and for names
    // (URLs) longer than the 128-byte field.
    if (!fits || requested.includes(Opt.BOOTFILE)) options.set(Opt.BOOTFILE, text(boot.bootfile))
    if (!boot.httpClient && requested.includes(Opt.TFTP_SERVER)) options.set(Opt.TFTP_SERVER, text(boot.nextServer))
    if (boot.httpClient) options.set(Opt.VENDOR_CLASS, text('HTTPClient'))
  }
  for (const [code, value] of boot?.extraOptions ?? []) options.set(code, value)
  return {
    op: 2,
    htype: req.htype,
    hlen: req.hlen,
    hops: 0,
    xid: req.xid,
    secs: 0,
    flags: req.flags & BROADCAST_FLAG,
    ciaddr: spec.keepCiaddr ? req.ciaddr : ZERO,
    yiaddr: spec.yiaddr ?? ZERO,
    siaddr,
    giaddr: req.giaddr,
    chaddr: req.chaddr,
    sname: '',
    file,
    messageType: spec.messageType,
    options: new Map([[Opt.MESSAGE_TYPE, Buffer.from([spec.messageType])], ...options]),
  }
}

/** Option 175 with 176 = 1: iPXE skips waiting for proxyDHCP offers (~3 s per boot). */
export function ipxeNoPxeDhcp(): Buffer {
  return encapsulate([[176, Buffer.from([1])]])
}

/**
 * Option 175 with 1 (priority) = 1, for proxy replies to iPXE. iPXE keeps the site lease and the
 * proxy offer as two settings blocks and reads `filename` from the first block that has one; at
 * equal priority that is the lease (registered first). A site server that sends a file name of its
 * own (pfSense's next-server + undionly.kpxe) then wins and iPXE loads itself forever — measured in
 * test/e2e/seed-002-smartos-pfsense.test.ts. A higher priority puts the proxy block first (iPXE
 * src/core/settings.c reprioritise_settings), so iPXE takes the bootstrap URL from the proxy.
 */
export function ipxeProxyPriority(): Buffer {
  return encapsulate([[IPXE_PRIORITY, Buffer.from([1])]])
}

/**
 * PXE vendor options (option 43) for proxy offers: discovery control (6) = 8, "boot the file in
 * this offer, skip boot-server discovery", as pixiecore and dnsmasq do.
 */
export function pxeDiscoveryControl(): Buffer {
  return encapsulate([[6, Buffer.from([8])]])
}

export interface Destination {
  readonly address: string
  readonly port: number
}

/**
 * RFC 2131 4.1: relayed → the relay's server port; a client with an address → its address;
 * NAK, broadcast flag, or no address yet → broadcast. Node cannot add the ARP entry that a unicast
 * to a not-yet-configured client needs, so that case is broadcast too (clients accept both).
 */
export function destinationFor(req: DhcpPacket, messageType: number, ports: { readonly server: number; readonly client: number }, broadcastAddress: string): Destination {
  if (req.giaddr !== ZERO) return { address: req.giaddr, port: ports.server }
  const NAK = 6
  if (req.ciaddr !== ZERO && messageType !== NAK) return { address: req.ciaddr, port: ports.client }
  return { address: broadcastAddress, port: ports.client }
}
