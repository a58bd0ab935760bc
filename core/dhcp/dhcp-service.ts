/**
 * The DHCP service: sockets in, a bounded receive queue, one responder (full or proxy), replies
 * out. `createDhcpService` validates the config and returns without binding; `start()` binds,
 * `close()` stops taking packets, lets in-flight replies finish and their lease commits land.
 * A packet can cost the service nothing but itself: decode errors, hook failures and send errors
 * are logged and the next packet is served. Under overload memory stays bounded: at most
 * `queue.capacity` datagrams wait (the oldest gives way, receive-queue.ts) and at most
 * `queue.inFlight` requests are being answered.
 */
import { mkdir } from 'node:fs/promises'
import { resolve as resolvePath } from 'node:path'
import type dgram from 'node:dgram'
import type { Logger } from 'pino'
import { BootpolicyError, isBootpolicyError, messageOf } from '../errors/bp-error.js'
import type { DhcpConfig, ResolvedDhcpConfig } from './config-schema.js'
import type { DecideBoot } from './boot-file.js'
import { clientFacts, type DhcpClientFacts } from './client-facts.js'
import { createFullResponder, excludedAddresses, reservationsByMac } from './full-responder.js'
import { ipToInt, sameSubnet } from './ipv4.js'
import type { StateBackend } from '../state/state-backend.js'
import { PostgresStateBackend } from '../state/postgres-backend.js'
import { FileLeaseBackend } from './file-lease-backend.js'
import { PostgresLeaseBackend } from './postgres-lease-backend.js'
import { createGroupCommit, type GroupCommit } from './group-commit.js'
import type { LeaseBackend, LeaseChange } from './lease-backend.js'
import type { Lease } from './lease-store.js'
import { newDhcpStats, renderDhcpMetrics, type DhcpStats } from './dhcp-metrics.js'
import { ReceiveQueue } from './receive-queue.js'
import { MessageType, Opt } from './options.js'
import { decode, encode, type DhcpPacket } from './packet-codec.js'
import { createProxyResponder } from './proxy-responder.js'
import { resolveDhcpConfig } from './resolve-config.js'
import type { Responder } from './responder.js'
import { acceptsSender, bindPort, closeUdp, resolveIdentity, type Rinfo, type ServerIdentity } from './udp-transport.js'

export type { DecideBoot, BootOverride } from './boot-file.js'
export type { DhcpClientFacts } from './client-facts.js'
export type { Lease } from './lease-store.js'

/** One packet for the timeline: a reply carries its lease time (option 51) and the requester's source address. */
export interface DhcpPacketEvent {
  readonly facts: DhcpClientFacts
  readonly direction: 'in' | 'out'
  readonly type: string
  readonly yiaddr?: string
  readonly file?: string
  readonly leaseSeconds?: number
  readonly from?: string
}
export type { LeaseBackend } from './lease-backend.js'

export interface DhcpServiceDeps {
  readonly logger: Logger
  /** The dhcpOffer hook; see boot-file.ts for when it runs and how its answer is merged. */
  readonly decideBoot?: DecideBoot
  /** Directory for the lease file (full mode); created if missing. */
  readonly stateDir: string
  /** Told of every client message handled and every reply sent (the machine timeline); must not throw or block. */
  readonly onPacket?: (p: DhcpPacketEvent) => void
  /** The runtime's state backend: PostgreSQL makes full mode keep its leases there, shared by replicas. */
  readonly state?: StateBackend
}

export interface DhcpService {
  start(): Promise<void>
  close(): Promise<void>
  /** Leases known to full mode (bound, released, declined, offered); [] in other modes. */
  leases(): Promise<Lease[]>
  /** The service's counters and gauges, Prometheus text format (dhcp-metrics.ts). */
  metrics(): string
}

const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(MessageType).map(([name, code]) => [code, name]))

/** Malformed packets are logged at debug each, and summarized at warn at most once a minute. */
const MALFORMED_SUMMARY_MS = 60_000
/** Queue drops are logged at warn at most this often, with a running count. */
export const QUEUE_DROP_LOG_MS = 10_000
/** Packets handled per event-loop turn: the sockets are read between batches, so the queue (not the kernel) sees the overload. */
const BATCH = 16

interface Queued {
  readonly buf: Buffer
  readonly from: Rinfo
  readonly localPort: number
  readonly socket: dgram.Socket
}

/** True for a BOOTREQUEST whose option 53 says DISCOVER (read off the raw bytes: enqueueing stays cheap). */
export function isDiscover(buf: Buffer): boolean {
  if (buf.length < 241 || buf[0] !== 1 || buf.readUInt32BE(236) !== 0x63825363) return false
  for (let i = 240; i < buf.length; ) {
    const code = buf[i]!
    if (code === 255) return false
    if (code === 0) {
      i++
      continue
    }
    if (i + 1 >= buf.length) return false
    const len = buf[i + 1]!
    if (code === 53) return len === 1 && i + 2 < buf.length && buf[i + 2] === 1
    i += 2 + len
  }
  return false
}

export function createDhcpService(config: DhcpConfig, deps: DhcpServiceDeps): DhcpService {
  const cfg = resolveDhcpConfig(config)
  const log = deps.logger.child({ service: 'dhcp' })
  const sockets: dgram.Socket[] = []
  const inflight = new Set<Promise<void>>()
  const queue = new ReceiveQueue<Queued>(cfg.queue.capacity, (q) => isDiscover(q.buf))
  const stats: DhcpStats = newDhcpStats(cfg.queue.capacity, cfg.queue.inFlight)
  let store: LeaseBackend | undefined
  let commits: GroupCommit<LeaseChange> | undefined
  let state: 'new' | 'started' | 'closed' = 'new'
  let lastSummary = 0
  let lastDropLog = -Infinity
  let lastDbLog = -Infinity
  let scheduled = false
  let identity: ServerIdentity | undefined
  let responder: Responder | undefined

  /** Every datagram lands here first, as fast as the sockets deliver; the oldest gives way when full. */
  const enqueue = (item: Queued): void => {
    if (state !== 'started') return
    stats.received++
    if (queue.push(item)) {
      stats.queueDropped = queue.dropped
      const now = Date.now()
      if (now - lastDropLog >= QUEUE_DROP_LOG_MS) {
        lastDropLog = now
        const err = new BootpolicyError('BP_ERR_DHCP_OVERLOAD', { capacity: cfg.queue.capacity })
        log.warn({ err, droppedTotal: queue.dropped, inFlight: inflight.size }, 'dhcp receive queue full, oldest packets dropped')
      }
    }
    stats.queueLength = queue.length
    stats.queueHighWater = queue.highWater
    schedule()
  }

  const schedule = (): void => {
    if (scheduled || queue.length === 0 || inflight.size >= cfg.queue.inFlight || state !== 'started') return
    scheduled = true
    setImmediate(drain)
  }

  const drain = (): void => {
    scheduled = false
    for (let n = 0; n < BATCH && queue.length > 0 && inflight.size < cfg.queue.inFlight && state === 'started'; n++) handle(queue.shift()!)
    stats.queueLength = queue.length
    schedule()
  }

  const handle = ({ buf, from, localPort, socket }: Queued): void => {
    let packet: DhcpPacket
    try {
      packet = decode(buf)
    } catch (err) {
      stats.malformed++
      log.debug({ err, from: from.address, bytes: buf.length }, 'dhcp malformed packet dropped')
      if (Date.now() - lastSummary > MALFORMED_SUMMARY_MS) {
        lastSummary = Date.now()
        log.warn({ err, from: from.address, malformedTotal: stats.malformed }, 'dhcp malformed packets dropped')
      }
      return
    }
    // Replies (op 2), plain BOOTP and non-Ethernet clients are not ours to answer.
    if (packet.op !== 1 || packet.messageType === undefined) return
    if (!acceptsSender(identity!, from, packet.giaddr)) return
    const facts = clientFacts(packet)
    if (!facts) return
    deps.onPacket?.({ facts, direction: 'in', type: facts.messageType })
    const job = (async () => {
      const out = await responder!({ packet, facts, from, localPort }, log)
      if (!out || state !== 'started') return
      const bytes = encode(out.packet, { maxPayload: out.maxPayload })
      await new Promise<void>((resolve, reject) => socket.send(bytes, out.to.port, out.to.address, (err) => (err ? reject(err) : resolve())))
      const type = out.packet.messageType
      const lease = out.packet.options.get(Opt.LEASE_TIME)
      const leaseSeconds = lease?.length === 4 ? lease.readUInt32BE(0) : undefined
      deps.onPacket?.({ facts, direction: 'out', type: TYPE_NAMES[type ?? 0] ?? String(type), yiaddr: out.packet.yiaddr, file: out.packet.file, leaseSeconds, from: from.address })
      if (type === MessageType.ACK) stats.acks++
      else if (type === MessageType.OFFER) stats.offers++
      else if (type === MessageType.NAK) stats.naks++
    })()
      .catch((err: unknown) => {
        if (isBootpolicyError(err) && err.code === 'BP_ERR_STATE_UNAVAILABLE') {
          // Fail closed: no offer, no ACK without the database. Loud, but once per 10 s, not per packet.
          stats.databaseFailures++
          const now = Date.now()
          const level = now - lastDbLog >= QUEUE_DROP_LOG_MS ? 'error' : 'debug'
          if (level === 'error') lastDbLog = now
          log[level]({ err, client: facts, failedTotal: stats.databaseFailures }, 'dhcp lease database unreachable, request not answered')
          return
        }
        const level = isBootpolicyError(err) ? 'warn' : 'error'
        log[level]({ err, client: facts }, 'dhcp request failed')
      })
      .finally(() => {
        inflight.delete(job)
        stats.inFlight = inflight.size
        schedule()
      })
    inflight.add(job)
    stats.inFlight = inflight.size
    if (inflight.size > stats.inFlightHighWater) stats.inFlightHighWater = inflight.size
  }

  const start = async (): Promise<void> => {
    if (state !== 'new') throw new Error('DHCP service already started')
    state = 'started'
    if (cfg.mode === 'off') {
      log.info({ mode: 'off' }, 'dhcp service disabled')
      return
    }
    try {
      const id = resolveIdentity(cfg)
      identity = id
      if (cfg.mode === 'full') {
        const full = await fullResponder(cfg, id, deps, stats)
        store = full.store
        commits = full.commits
        responder = full.responder
      } else {
        responder = createProxyResponder({ config: cfg, serverAddress: id.address, ...(deps.decideBoot ? { decideBoot: deps.decideBoot } : {}) })
      }
      const ports = cfg.mode === 'proxy' ? [cfg.ports.server, cfg.ports.pxe] : [cfg.ports.server]
      for (const port of new Set(ports)) {
        // Replies on the PXE port go back from the socket they came in on (source port 4011).
        let send: dgram.Socket | undefined
        const bound = await bindPort(cfg.listenAddress, id.address, port, (buf, from, socket) => {
          enqueue({ buf, from, localPort: port, socket: port === cfg.ports.server ? (send ?? socket) : socket })
        })
        send = bound.send
        sockets.push(...bound.sockets)
      }
      const leaseCount = store ? (await store.list()).length : 0
      log.info({ mode: cfg.mode, serverAddress: id.address, listenAddress: cfg.listenAddress, ports, leases: leaseCount, queue: cfg.queue }, 'dhcp service listening')
    } catch (err) {
      state = 'closed'
      await Promise.all(sockets.splice(0).map(closeUdp))
      await store?.close()
      throw err
    }
  }

  const close = async (): Promise<void> => {
    if (state === 'closed') return
    state = 'closed'
    await Promise.all(sockets.splice(0).map(closeUdp))
    queue.clear()
    await Promise.allSettled([...inflight])
    await commits?.idle()
    await store?.close()
    log.info({ receivedTotal: stats.received, malformedTotal: stats.malformed, queueDroppedTotal: stats.queueDropped }, 'dhcp service closed')
  }

  return {
    start,
    close,
    leases: async () => (store ? store.list() : []),
    metrics: () => renderDhcpMetrics(stats, commits?.stats),
  }
}

interface FullMode {
  readonly responder: Responder
  readonly store: LeaseBackend
  readonly commits: GroupCommit<LeaseChange>
}

async function fullResponder(cfg: ResolvedDhcpConfig, identity: ServerIdentity, deps: DhcpServiceDeps, stats: DhcpStats): Promise<FullMode> {
  const pool = cfg.pool!
  await mkdir(deps.stateDir, { recursive: true }).catch((cause: unknown) => {
    throw new BootpolicyError('BP_ERR_DHCP_STATE', { file: deps.stateDir, action: 'created', details: messageOf(cause) }, { cause })
  })
  const reserved = new Map<number, string>()
  for (const [mac, r] of reservationsByMac(cfg)) reserved.set(ipToInt(r.ip), mac)
  const table = {
    poolStart: pool.start,
    poolEnd: pool.end,
    reserved,
    excluded: excludedAddresses(cfg, identity.address),
    inSubnet: (ip: string) => sameSubnet(ip, pool.start, cfg.subnetMask),
  }
  const store: LeaseBackend =
    deps.state instanceof PostgresStateBackend
      ? new PostgresLeaseBackend(deps.state, { ...table, server: identity.address })
      : new FileLeaseBackend({ ...table, file: resolvePath(deps.stateDir, cfg.stateFile), maxOffers: cfg.offers.max })
  await store.load()
  const commits = createGroupCommit<LeaseChange>((batch) => store.commit(batch))
  const responder = createFullResponder({ config: cfg, serverAddress: identity.address, store, commits, stats, ...(deps.decideBoot ? { decideBoot: deps.decideBoot } : {}) })
  return { responder, store, commits }
}
