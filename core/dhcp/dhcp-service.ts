/**
 * The DHCP service: sockets in, one responder (full or proxy) in the middle, replies out.
 * `createDhcpService` validates the config and returns without binding; `start()` binds,
 * `close()` stops taking packets, lets in-flight replies finish and flushes the lease file.
 * A packet can cost the service nothing but itself: decode errors, hook failures and send errors
 * are logged and the next packet is served.
 */
import { mkdir } from 'node:fs/promises'
import { resolve as resolvePath } from 'node:path'
import type dgram from 'node:dgram'
import type { Logger } from 'pino'
import { BootpolicyError, isBootpolicyError, messageOf } from '../errors/bp-error.js'
import type { DhcpConfig, ResolvedDhcpConfig } from './config-schema.js'
import type { DecideBoot } from './boot-file.js'
import { clientFacts } from './client-facts.js'
import { createFullResponder, excludedAddresses, reservationsByMac } from './full-responder.js'
import { ipToInt, sameSubnet } from './ipv4.js'
import { LeaseStore, type Lease } from './lease-store.js'
import { decode, encode, type DhcpPacket } from './packet-codec.js'
import { createProxyResponder } from './proxy-responder.js'
import { resolveDhcpConfig } from './resolve-config.js'
import type { Responder } from './responder.js'
import { acceptsSender, bindPort, closeUdp, resolveIdentity, type Rinfo, type ServerIdentity } from './udp-transport.js'

export type { DecideBoot, BootOverride } from './boot-file.js'
export type { DhcpClientFacts } from './client-facts.js'
export type { Lease } from './lease-store.js'

export interface DhcpServiceDeps {
  readonly logger: Logger
  /** The dhcpOffer hook; see boot-file.ts for when it runs and how its answer is merged. */
  readonly decideBoot?: DecideBoot
  /** Directory for the lease file (full mode); created if missing. */
  readonly stateDir: string
}

export interface DhcpService {
  start(): Promise<void>
  close(): Promise<void>
  /** Leases known to full mode (bound, released, declined, offered); [] in other modes. */
  leases(): Lease[]
}

/** Malformed packets are logged at debug each, and summarized at warn at most once a minute. */
const MALFORMED_SUMMARY_MS = 60_000

export function createDhcpService(config: DhcpConfig, deps: DhcpServiceDeps): DhcpService {
  const cfg = resolveDhcpConfig(config)
  const log = deps.logger.child({ service: 'dhcp' })
  const sockets: dgram.Socket[] = []
  const inflight = new Set<Promise<void>>()
  let store: LeaseStore | undefined
  let state: 'new' | 'started' | 'closed' = 'new'
  let received = 0
  let malformed = 0
  let lastSummary = 0

  const onPacket = (buf: Buffer, from: Rinfo, localPort: number, socket: dgram.Socket, identity: ServerIdentity, responder: Responder): void => {
    if (state !== 'started') return
    received++
    let packet: DhcpPacket
    try {
      packet = decode(buf)
    } catch (err) {
      malformed++
      log.debug({ err, from: from.address, bytes: buf.length }, 'dhcp malformed packet dropped')
      if (Date.now() - lastSummary > MALFORMED_SUMMARY_MS) {
        lastSummary = Date.now()
        log.warn({ err, from: from.address, malformedTotal: malformed }, 'dhcp malformed packets dropped')
      }
      return
    }
    // Replies (op 2), plain BOOTP and non-Ethernet clients are not ours to answer.
    if (packet.op !== 1 || packet.messageType === undefined) return
    if (!acceptsSender(identity, from, packet.giaddr)) return
    const facts = clientFacts(packet)
    if (!facts) return
    const job = (async () => {
      const out = await responder({ packet, facts, from, localPort }, log)
      if (!out || state !== 'started') return
      const bytes = encode(out.packet, { maxPayload: out.maxPayload })
      await new Promise<void>((resolve, reject) => socket.send(bytes, out.to.port, out.to.address, (err) => (err ? reject(err) : resolve())))
    })()
      .catch((err: unknown) => {
        const level = isBootpolicyError(err) ? 'warn' : 'error'
        log[level]({ err, client: facts }, 'dhcp request failed')
      })
      .finally(() => inflight.delete(job))
    inflight.add(job)
  }

  const start = async (): Promise<void> => {
    if (state !== 'new') throw new Error('DHCP service already started')
    state = 'started'
    if (cfg.mode === 'off') {
      log.info({ mode: 'off' }, 'dhcp service disabled')
      return
    }
    try {
      const identity = resolveIdentity(cfg)
      const responder =
        cfg.mode === 'full'
          ? await fullResponder(cfg, identity, deps)
          : createProxyResponder({ config: cfg, serverAddress: identity.address, ...(deps.decideBoot ? { decideBoot: deps.decideBoot } : {}) })
      if (cfg.mode === 'full') store = (responder as FullWithStore).store
      const ports = cfg.mode === 'proxy' ? [cfg.ports.server, cfg.ports.pxe] : [cfg.ports.server]
      for (const port of new Set(ports)) {
        // Replies on the PXE port go back from the socket they came in on (source port 4011).
        let send: dgram.Socket | undefined
        const bound = await bindPort(cfg.listenAddress, identity.address, port, (buf, from, socket) => {
          onPacket(buf, from, port, port === cfg.ports.server ? (send ?? socket) : socket, identity, responder)
        })
        send = bound.send
        sockets.push(...bound.sockets)
      }
      log.info({ mode: cfg.mode, serverAddress: identity.address, listenAddress: cfg.listenAddress, ports, leases: store?.list().length ?? 0 }, 'dhcp service listening')
    } catch (err) {
      state = 'closed'
      await Promise.all(sockets.splice(0).map(closeUdp))
      throw err
    }
  }

  const close = async (): Promise<void> => {
    if (state === 'closed') return
    state = 'closed'
    await Promise.all(sockets.splice(0).map(closeUdp))
    await Promise.allSettled([...inflight])
    await store?.commit()
    log.info({ receivedTotal: received, malformedTotal: malformed }, 'dhcp service closed')
  }

  return { start, close, leases: () => store?.list() ?? [] }
}

type FullWithStore = Responder & { store: LeaseStore }

async function fullResponder(cfg: ResolvedDhcpConfig, identity: ServerIdentity, deps: DhcpServiceDeps): Promise<FullWithStore> {
  const pool = cfg.pool!
  await mkdir(deps.stateDir, { recursive: true }).catch((cause: unknown) => {
    throw new BootpolicyError('BP_ERR_DHCP_STATE', { file: deps.stateDir, action: 'created', details: messageOf(cause) }, { cause })
  })
  const reserved = new Map<number, string>()
  for (const [mac, r] of reservationsByMac(cfg)) reserved.set(ipToInt(r.ip), mac)
  const store = new LeaseStore({
    file: resolvePath(deps.stateDir, cfg.stateFile),
    poolStart: pool.start,
    poolEnd: pool.end,
    reserved,
    excluded: excludedAddresses(cfg, identity.address),
    inSubnet: (ip) => sameSubnet(ip, pool.start, cfg.subnetMask),
    maxOffers: cfg.offers.max,
  })
  await store.load()
  const responder = createFullResponder({ config: cfg, serverAddress: identity.address, store, ...(deps.decideBoot ? { decideBoot: deps.decideBoot } : {}) })
  return Object.assign(responder, { store })
}
