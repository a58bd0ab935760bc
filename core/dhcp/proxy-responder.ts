/**
 * proxyDHCP (PXE spec 2.1, section 2.2.5): runs beside the site's DHCP server and hands out boot
 * information only, never an address. It answers
 *   - a broadcast DISCOVER on the server port (67) with an OFFER: yiaddr 0.0.0.0, option 60
 *     "PXEClient", siaddr/file with the boot file;
 *   - a unicast REQUEST on the PXE port (4011) with an ACK carrying the same, sent back to the
 *     address and port it came from.
 * Clients that are neither PXE nor UEFI HTTP boot are ignored: the site's server serves them.
 */
import type { ResolvedDhcpConfig } from './config-schema.js'
import { chooseBoot, type DecideBoot } from './boot-file.js'
import { MessageType, Opt, readIp, text, type OptionMap } from './options.js'
import { buildReply, destinationFor, ipxeProxyPriority, pxeDiscoveryControl } from './reply-builder.js'
import { maxPayloadOf, type Responder } from './responder.js'

export interface ProxyResponderDeps {
  readonly config: ResolvedDhcpConfig
  readonly serverAddress: string
  readonly decideBoot?: DecideBoot
}

export function createProxyResponder(deps: ProxyResponderDeps): Responder {
  const { config, serverAddress } = deps
  return async (msg, log) => {
    const { packet: req, facts } = msg
    if (!facts.isPxe && !facts.isHttpBoot) return undefined
    const onPxePort = msg.localPort === config.ports.pxe && msg.localPort !== config.ports.server
    let type: number
    if (!onPxePort && req.messageType === MessageType.DISCOVER) type = MessageType.OFFER
    else if (onPxePort && (req.messageType === MessageType.REQUEST || req.messageType === MessageType.INFORM)) type = MessageType.ACK
    else return undefined
    const serverId = readIp(req.options, Opt.SERVER_ID)
    if (serverId !== undefined && serverId !== serverAddress && onPxePort) return undefined

    const boot = await chooseBoot(facts, config, serverAddress, deps.decideBoot, log)
    if (boot.bootfile === undefined) {
      log.debug({ client: facts, reason: boot.reason }, 'dhcp proxy has no boot file for client, ignored')
      return undefined
    }
    const options: OptionMap = new Map()
    if (!boot.httpClient) {
      options.set(Opt.VENDOR_CLASS, text('PXEClient'))
      options.set(Opt.VENDOR_SPECIFIC, pxeDiscoveryControl())
    }
    // iPXE: rank the proxy offer above the site lease, so its boot file wins over the site's own.
    if (facts.isIpxe) options.set(Opt.IPXE_ENCAP, ipxeProxyPriority())
    // PXE clients match replies by their GUID; UEFI firmware drops a proxy reply without it.
    const guid = req.options.get(Opt.CLIENT_UUID)
    if (guid) options.set(Opt.CLIENT_UUID, guid)
    const packet = buildReply(req, { messageType: type, serverAddress, boot, options })
    log.debug({ client: facts, reply: type, bootfile: boot.bootfile, reason: boot.reason }, 'dhcp proxy reply')
    const to = onPxePort && msg.from.address !== '0.0.0.0' ? msg.from : destinationFor(req, type, config.ports, config.broadcastAddress)
    return { packet, to, maxPayload: maxPayloadOf(req) }
  }
}
