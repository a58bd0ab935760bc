/**
 * Full DHCP server (RFC 2131 section 4.3) for one subnet: DISCOVER/OFFER, REQUEST/ACK/NAK,
 * DECLINE, RELEASE, INFORM. It answers only what is meant for it: a REQUEST naming another
 * server (option 54) is dropped silently, a relay from a subnet it does not serve is ignored.
 * ACKs are sent only after the lease is on disk (lease-store commit), as ISC dhcpd does.
 * Every packet is hostile: DECLINE and RELEASE touch only the sender's own lease (Kea's rule, see
 * lease-ownership.ts), a REQUEST for another client's bound address is NAKed.
 */
import type { Logger } from 'pino'
import { BootpolicyError } from '../errors/bp-error.js'
import { normalizeMac } from '../context/normalize-mac.js'
import type { ResolvedDhcpConfig } from './config-schema.js'
import { chooseBoot, type DecideBoot } from './boot-file.js'
import { leaseKey, type DhcpClientFacts } from './client-facts.js'
import { broadcastOf, ipToInt, sameSubnet } from './ipv4.js'
import type { LeaseStore } from './lease-store.js'
import { ips, MessageType, Opt, readIp, text, u32, type OptionMap } from './options.js'
import { BROADCAST_FLAG } from './packet-codec.js'
import { buildReply, destinationFor, ipxeNoPxeDhcp } from './reply-builder.js'
import { maxPayloadOf, type Incoming, type Outgoing, type Responder } from './responder.js'
import { createIgnoredLog, declineRefusal, releaseRefusal } from './lease-ownership.js'

export interface FullResponderDeps {
  readonly config: ResolvedDhcpConfig
  readonly serverAddress: string
  readonly store: LeaseStore
  readonly decideBoot?: DecideBoot
}

/** Reserved MAC → its reservation; the store gets the reverse map. */
export function reservationsByMac(config: ResolvedDhcpConfig): Map<string, { ip: string; hostname?: string }> {
  const map = new Map<string, { ip: string; hostname?: string }>()
  for (const r of config.reservations) map.set(normalizeMac(r.mac)!, { ip: r.ip, ...(r.hostname ? { hostname: r.hostname } : {}) })
  return map
}

export function createFullResponder(deps: FullResponderDeps): Responder {
  const { config, serverAddress, store } = deps
  const pool = config.pool!
  const mask = config.subnetMask
  const reservations = reservationsByMac(config)
  const inSubnet = (ip: string): boolean => sameSubnet(ip, pool.start, mask)
  let lastExhaustedLog = 0
  const ignored = createIgnoredLog()

  const leaseOptions = (hostname: string | undefined, withLeaseTime: boolean): OptionMap => {
    const o: OptionMap = new Map()
    if (withLeaseTime) {
      o.set(Opt.LEASE_TIME, u32(config.leaseSeconds))
      o.set(Opt.RENEWAL_TIME, u32(Math.floor(config.leaseSeconds / 2)))
      o.set(Opt.REBINDING_TIME, u32(Math.floor((config.leaseSeconds * 7) / 8)))
    }
    o.set(Opt.SUBNET_MASK, ips([mask]))
    o.set(Opt.BROADCAST, ips([broadcastOf(pool.start, mask)]))
    if (config.router) o.set(Opt.ROUTER, ips([config.router]))
    if (config.dnsServers.length > 0) o.set(Opt.DNS, ips(config.dnsServers))
    if (config.domain) o.set(Opt.DOMAIN, text(config.domain))
    if (config.ntpServers.length > 0) o.set(Opt.NTP, ips(config.ntpServers))
    if (hostname) o.set(Opt.HOSTNAME, text(hostname))
    return o
  }

  const reply = async (msg: Incoming, type: number, yiaddr: string | undefined, log: Logger): Promise<Outgoing> => {
    const { packet: req, facts } = msg
    const boot = type === MessageType.NAK ? undefined : await chooseBoot(facts, config, serverAddress, deps.decideBoot, log)
    const hostname = reservations.get(facts.mac)?.hostname
    const options = type === MessageType.NAK ? new Map([[Opt.MESSAGE, text('requested address not available')]]) : leaseOptions(hostname, yiaddr !== undefined)
    // iPXE in full mode: tell it no proxyDHCP exists, saving ~3 s per boot.
    if (boot && facts.isIpxe && config.boot.ipxeNoPxeDhcp) options.set(Opt.IPXE_ENCAP, ipxeNoPxeDhcp())
    const packet = buildReply(req, {
      messageType: type,
      serverAddress,
      ...(yiaddr ? { yiaddr } : {}),
      keepCiaddr: type === MessageType.ACK && req.ciaddr !== '0.0.0.0',
      ...(boot ? { boot } : {}),
      options,
    })
    // A relay broadcasts a NAK only when told to (RFC 2131 4.3.2).
    if (type === MessageType.NAK && facts.relayed) packet.flags |= BROADCAST_FLAG
    log.debug({ client: facts, reply: type, yiaddr, bootfile: boot?.bootfile, reason: boot?.reason }, 'dhcp reply')
    return { packet, to: destinationFor(req, type, config.ports, config.broadcastAddress), maxPayload: maxPayloadOf(req) }
  }

  /** Reservation, then the client's previous address, then its requested one, then any free one. */
  const pickAddress = (facts: DhcpClientFacts, key: string): string | undefined => {
    const reserved = reservations.get(facts.mac)
    if (reserved) return reserved.ip
    const previous = store.forClient(key)
    if (previous && previous.state !== 'declined' && store.usableBy(previous.ip, key, facts.mac)) return previous.ip
    const requested = facts.requestedAddress
    if (requested && inSubnet(requested) && store.usableBy(requested, key, facts.mac)) return requested
    return store.allocate(key, facts.mac)
  }

  /**
   * May `key` be bound to `ip` now? A reserved client only ever gets its reservation; an address
   * bound to another client is refused, one merely offered to another client is not.
   */
  const acceptable = (facts: DhcpClientFacts, key: string, ip: string): boolean => {
    const reserved = reservations.get(facts.mac)
    if (reserved) return reserved.ip === ip
    return inSubnet(ip) && store.bindableBy(ip, key, facts.mac)
  }

  const ack = async (msg: Incoming, key: string, ip: string, log: Logger): Promise<Outgoing> => {
    const hostname = reservations.get(msg.facts.mac)?.hostname ?? msg.facts.hostname
    // RENEWING/REBINDING (ciaddr, no option 50) is followed by no ARP check: the decline window stays shut.
    const renewal = msg.facts.requestedAddress === undefined
    const lease = store.bind(key, msg.facts.mac, ip, config.leaseSeconds * 1000, hostname, renewal)
    const [out] = await Promise.all([reply(msg, MessageType.ACK, ip, log), store.commit()])
    log.info({ client: msg.facts, ip: lease.ip, expiresAt: new Date(lease.expiresAt).toISOString() }, 'dhcp lease bound')
    return out
  }

  return async (msg, log) => {
    const { packet: req, facts } = msg
    if (facts.relayed && !inSubnet(facts.giaddr!)) {
      log.debug({ client: facts }, 'dhcp relayed request for a subnet not served, ignored')
      return undefined
    }
    const key = leaseKey(facts)
    const serverId = readIp(req.options, Opt.SERVER_ID)
    if (serverId !== undefined && serverId !== serverAddress) {
      // The client chose (or talks to) another server: free our offer and stay silent.
      if (req.messageType === MessageType.REQUEST) store.forgetOffer(key)
      return undefined
    }
    switch (req.messageType) {
      case MessageType.DISCOVER: {
        const ip = pickAddress(facts, key)
        if (!ip) {
          if (Date.now() - lastExhaustedLog > 10_000) {
            lastExhaustedLog = Date.now()
            const err = new BootpolicyError('BP_ERR_DHCP_POOL_EXHAUSTED', { start: pool.start, end: pool.end })
            log.warn({ err, client: facts }, 'dhcp pool exhausted, no offer')
          }
          return undefined
        }
        store.offer(key, facts.mac, ip, config.offers.holdSeconds * 1000, facts.hostname)
        return reply(msg, MessageType.OFFER, ip, log)
      }
      case MessageType.REQUEST: {
        // SELECTING carries 54 and 50; INIT-REBOOT 50 only; RENEWING/REBINDING only ciaddr.
        const wanted = facts.requestedAddress ?? facts.ciaddr
        if (!wanted) return undefined
        if (acceptable(facts, key, wanted)) return ack(msg, key, wanted, log)
        // A renewing/rebinding client (ciaddr, no 50) on a foreign network belongs to another
        // server: stay silent. Everything else that is not acceptable gets a NAK, so the client
        // restarts with DISCOVER (INIT-REBOOT from another network, a taken or wrong address).
        if (serverId === undefined && facts.requestedAddress === undefined && !inSubnet(wanted)) return undefined
        log.info({ client: facts, requested: wanted }, 'dhcp request refused')
        return reply(msg, MessageType.NAK, undefined, log)
      }
      case MessageType.DECLINE: {
        const ip = facts.requestedAddress
        const declined = (at: string): boolean => store.decline(key, at, config.declineSeconds * 1000, config.declineWindowSeconds * 1000)
        const refusal = declineRefusal(ip, serverId, serverAddress) ?? (declined(ip!) ? undefined : 'not offered to the sender, or not leased to it within declineWindowSeconds')
        if (refusal) return ignored(log, 'DECLINE', ip, refusal, facts)
        await store.commit()
        log.warn({ client: facts, ip }, 'dhcp address declined, kept out of the pool')
        return undefined
      }
      case MessageType.RELEASE: {
        const ip = facts.ciaddr
        const refusal = releaseRefusal(ip, serverId, serverAddress, msg.from.address) ?? (store.release(key, ip!) ? undefined : 'not leased to the sender')
        if (refusal) return ignored(log, 'RELEASE', ip, refusal, facts)
        await store.commit()
        log.info({ client: facts, ip }, 'dhcp lease released')
        return undefined
      }
      case MessageType.INFORM:
        // The client has an address (configured by hand): options only, no lease, no yiaddr.
        if (!facts.ciaddr && !facts.relayed) return undefined
        return reply(msg, MessageType.ACK, undefined, log)
      default:
        return undefined
    }
  }
}

export function excludedAddresses(config: ResolvedDhcpConfig, serverAddress: string): Set<number> {
  const set = new Set<number>([ipToInt(serverAddress)])
  if (config.router) set.add(ipToInt(config.router))
  return set
}
