/**
 * Full DHCP server (RFC 2131 section 4.3) for one subnet: DISCOVER/OFFER, REQUEST/ACK/NAK,
 * DECLINE, RELEASE, INFORM. It answers only what is meant for it: a REQUEST naming another
 * server (option 54) is dropped silently, a relay from a subnet it does not serve is ignored.
 * An ACK is sent only after its lease is durable (group commit through the lease backend, as ISC
 * dhcpd writes before it acknowledges); when the write fails the REQUEST gets silence, never an ACK.
 * Every packet is hostile: DECLINE and RELEASE touch only the sender's own lease (Kea's rule, see
 * lease-ownership.ts), a REQUEST for another client's bound address is NAKed.
 */
import type { Logger } from 'pino'
import { BootpolicyError, isBootpolicyError } from '../errors/bp-error.js'
import { normalizeMac } from '../context/normalize-mac.js'
import type { ResolvedDhcpConfig } from './config-schema.js'
import { chooseBoot, type DecideBoot } from './boot-file.js'
import { leaseKey, type DhcpClientFacts } from './client-facts.js'
import { broadcastOf, ipToInt, sameSubnet } from './ipv4.js'
import type { LeaseBackend, LeaseChange } from './lease-backend.js'
import { type GroupCommit, RefusedChange } from './group-commit.js'
import type { DhcpStats } from './dhcp-metrics.js'
import { ips, MessageType, Opt, readIp, text, u32, type OptionMap } from './options.js'
import { BROADCAST_FLAG } from './packet-codec.js'
import { buildReply, destinationFor, ipxeNoPxeDhcp } from './reply-builder.js'
import { maxPayloadOf, type Incoming, type Outgoing, type Responder } from './responder.js'
import { createIgnoredLog, declineRefusal, releaseRefusal } from './lease-ownership.js'

export interface FullResponderDeps {
  readonly config: ResolvedDhcpConfig
  readonly serverAddress: string
  readonly store: LeaseBackend
  /** Batches the changes into backend commits; an ACK waits for the commit holding its change. */
  readonly commits: GroupCommit<LeaseChange>
  readonly stats: DhcpStats
  readonly decideBoot?: DecideBoot
}

/** A failed lease write is logged at error at most this often (with a running count), each one at debug. */
export const UNDURABLE_LOG_MS = 10_000

/** Reserved MAC → its reservation; the store gets the reverse map. */
export function reservationsByMac(config: ResolvedDhcpConfig): Map<string, { ip: string; hostname?: string }> {
  const map = new Map<string, { ip: string; hostname?: string }>()
  for (const r of config.reservations) map.set(normalizeMac(r.mac)!, { ip: r.ip, ...(r.hostname ? { hostname: r.hostname } : {}) })
  return map
}

export function createFullResponder(deps: FullResponderDeps): Responder {
  const { config, serverAddress, store, commits, stats } = deps
  const pool = config.pool!
  const mask = config.subnetMask
  const reservations = reservationsByMac(config)
  const inSubnet = (ip: string): boolean => sameSubnet(ip, pool.start, mask)
  let lastExhaustedLog = 0
  let lastUndurableLog = -Infinity
  const ignored = createIgnoredLog()

  // The options that never change are encoded once (the profile of a DORA burst showed them per
  // reply); each reply gets a fresh map over the shared buffers, which nothing writes to.
  const leaseTimes: Array<[number, Buffer]> = [
    [Opt.LEASE_TIME, u32(config.leaseSeconds)],
    [Opt.RENEWAL_TIME, u32(Math.floor(config.leaseSeconds / 2))],
    [Opt.REBINDING_TIME, u32(Math.floor((config.leaseSeconds * 7) / 8))],
  ]
  const networkOptions: Array<[number, Buffer]> = [
    [Opt.SUBNET_MASK, ips([mask])],
    [Opt.BROADCAST, ips([broadcastOf(pool.start, mask)])],
  ]
  if (config.router) networkOptions.push([Opt.ROUTER, ips([config.router])])
  if (config.dnsServers.length > 0) networkOptions.push([Opt.DNS, ips(config.dnsServers)])
  if (config.domain) networkOptions.push([Opt.DOMAIN, text(config.domain)])
  if (config.ntpServers.length > 0) networkOptions.push([Opt.NTP, ips(config.ntpServers)])
  const withTimes = [...leaseTimes, ...networkOptions]

  const leaseOptions = (hostname: string | undefined, withLeaseTime: boolean): OptionMap => {
    const o: OptionMap = new Map(withLeaseTime ? withTimes : networkOptions)
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
    if (log.isLevelEnabled('debug')) log.debug({ client: facts, reply: type, yiaddr, bootfile: boot?.bootfile, reason: boot?.reason }, 'dhcp reply')
    return { packet, to: destinationFor(req, type, config.ports, config.broadcastAddress), maxPayload: maxPayloadOf(req) }
  }

  /**
   * May `key` be bound to `ip` now? A reserved client only ever gets its reservation; an address
   * bound to another client is refused (by the backend), one merely offered to another is not.
   */
  const acceptable = (facts: DhcpClientFacts, ip: string): boolean => {
    const reserved = reservations.get(facts.mac)
    if (reserved) return reserved.ip === ip
    return inSubnet(ip)
  }

  /**
   * Commits `change`: 'refused' when a shared store found the address bound to another client
   * meanwhile (another replica won the race), 'failed' (and a loud, rate-limited log line) when it
   * did not become durable. For a REQUEST the ACK is then withheld (counted here); a DECLINE or
   * RELEASE never gets a reply, so its line says only that the change was not stored.
   */
  const durable = async (change: LeaseChange, facts: DhcpClientFacts, log: Logger, kind: 'REQUEST' | 'DECLINE' | 'RELEASE'): Promise<'ok' | 'refused' | 'failed'> => {
    try {
      await commits.submit(change)
      return 'ok'
    } catch (err) {
      // The database is down: the service logs and counts it once for all (fail closed, silence).
      if (isBootpolicyError(err) && err.code === 'BP_ERR_STATE_UNAVAILABLE') throw err
      if (err instanceof RefusedChange) {
        log.info({ client: facts, ip: change.lease.ip }, 'dhcp lease refused by the store: the address is held by another client')
        return 'refused'
      }
      const now = Date.now()
      const level = now - lastUndurableLog >= UNDURABLE_LOG_MS ? 'error' : 'debug'
      if (level === 'error') lastUndurableLog = now
      const fields = { err, client: facts, ip: change.lease.ip, state: change.lease.state }
      if (kind === 'REQUEST') {
        stats.acksWithheld++
        log[level]({ ...fields, withheldTotal: stats.acksWithheld }, 'dhcp lease not durable, no reply sent')
      } else {
        log[level]({ ...fields, message: kind }, 'dhcp lease change not durable, not applied to the file')
      }
      return 'failed'
    }
  }

  /** The ACK; 'taken' when another client holds `ip`; undefined (silence) when the lease is not durable. */
  const ack = async (msg: Incoming, key: string, ip: string, log: Logger): Promise<Outgoing | 'taken' | undefined> => {
    const hostname = reservations.get(msg.facts.mac)?.hostname ?? msg.facts.hostname
    // RENEWING/REBINDING (ciaddr, no option 50) is followed by no ARP check: the decline window stays shut.
    const renewal = msg.facts.requestedAddress === undefined
    const change = await store.bind({ key, mac: msg.facts.mac, ip, leaseMs: config.leaseSeconds * 1000, renewal, ...(hostname ? { hostname } : {}) })
    if (!change) return 'taken'
    const [out, stored] = await Promise.all([reply(msg, MessageType.ACK, ip, log), durable(change, msg.facts, log, 'REQUEST')])
    if (stored === 'refused') return 'taken'
    // Silence, not NAK: RFC 2131 lets the client retransmit, and a NAK would send it back to DISCOVER.
    if (stored === 'failed') return undefined
    const lease = change.lease
    if (log.isLevelEnabled('info')) log.info({ client: msg.facts, ip: lease.ip, expiresAt: new Date(lease.expiresAt).toISOString() }, 'dhcp lease bound')
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
      if (req.messageType === MessageType.REQUEST) await store.forgetOffer(key)
      return undefined
    }
    switch (req.messageType) {
      case MessageType.DISCOVER: {
        const reserved = reservations.get(facts.mac)?.ip
        const requested = facts.requestedAddress !== undefined && inSubnet(facts.requestedAddress) ? facts.requestedAddress : undefined
        const ip = await store.reserve({
          key,
          mac: facts.mac,
          holdMs: config.offers.holdSeconds * 1000,
          ...(facts.hostname ? { hostname: facts.hostname } : {}),
          ...(reserved ? { fixed: reserved } : {}),
          ...(requested ? { requested } : {}),
        })
        if (!ip) {
          if (Date.now() - lastExhaustedLog > 10_000) {
            lastExhaustedLog = Date.now()
            const err = new BootpolicyError('BP_ERR_DHCP_POOL_EXHAUSTED', { start: pool.start, end: pool.end })
            log.warn({ err, client: facts }, 'dhcp pool exhausted, no offer')
          }
          return undefined
        }
        return reply(msg, MessageType.OFFER, ip, log)
      }
      case MessageType.REQUEST: {
        // SELECTING carries 54 and 50; INIT-REBOOT 50 only; RENEWING/REBINDING only ciaddr.
        const wanted = facts.requestedAddress ?? facts.ciaddr
        if (!wanted) return undefined
        if (acceptable(facts, wanted)) {
          const out = await ack(msg, key, wanted, log)
          if (out !== 'taken') return out
        }
        // A renewing/rebinding client (ciaddr, no 50) on a foreign network belongs to another
        // server: stay silent. Everything else that is not acceptable gets a NAK, so the client
        // restarts with DISCOVER (INIT-REBOOT from another network, a taken or wrong address).
        if (serverId === undefined && facts.requestedAddress === undefined && !inSubnet(wanted)) return undefined
        log.info({ client: facts, requested: wanted }, 'dhcp request refused')
        return reply(msg, MessageType.NAK, undefined, log)
      }
      case MessageType.DECLINE: {
        const ip = facts.requestedAddress
        const early = declineRefusal(ip, serverId, serverAddress)
        const change = early ? undefined : await store.decline(key, ip!, config.declineSeconds * 1000, config.declineWindowSeconds * 1000)
        const refusal = early ?? (change ? undefined : 'not offered to the sender, or not leased to it within declineWindowSeconds')
        if (refusal || !change) return ignored(log, 'DECLINE', ip, refusal ?? '', facts)
        if ((await durable(change, facts, log, 'DECLINE')) !== 'ok') return undefined
        log.warn({ client: facts, ip }, 'dhcp address declined, kept out of the pool')
        return undefined
      }
      case MessageType.RELEASE: {
        const ip = facts.ciaddr
        const early = releaseRefusal(ip, serverId, serverAddress, msg.from.address)
        const change = early ? undefined : await store.release(key, ip!)
        const refusal = early ?? (change ? undefined : 'not leased to the sender')
        if (refusal || !change) return ignored(log, 'RELEASE', ip, refusal ?? '', facts)
        if ((await durable(change, facts, log, 'RELEASE')) !== 'ok') return undefined
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
