/**
 * The TFTP service: a read-only server for boot loaders (undionly.kpxe, ipxe.efi, pxelinux files).
 *
 * This file owns the listening socket and the per-transfer bookkeeping; packet parsing lives in
 * parse-request.ts, file resolution in serve-file.ts and the shared resolver, option negotiation in
 * negotiate.ts and the sender (OACK, windows, retransmission) in send-transfer.ts.
 * Order of checks for each datagram, cheapest first: parse → write refused → path syntax →
 * duplicate (retransmitted RRQ) → concurrency limit → transfer socket → virtual file / disk.
 * Refusals before a transfer exists are answered from the listening socket, so a flood of junk
 * never costs a socket per packet.
 */
import dgram, { type RemoteInfo, type Socket } from 'node:dgram'
import { stat } from 'node:fs/promises'
import { isIP } from 'node:net'
import { availableParallelism } from 'node:os'
import type { Logger } from 'pino'
import { BootpolicyError } from '../errors/bp-error.js'
import { checkRelativePath } from '../files/resolve-safe-path.js'
import type { TftpConfig } from './config-schema.js'
import { createFileCache } from '../files/file-cache.js'
import { negotiate } from './negotiate.js'
import { errorPacket, parseRequest, type ReadRequest } from './parse-request.js'
import { type RunningTransfer, runTransfer, type TransferEnd, type TransferSpec } from './run-transfer.js'
import { sendError } from './send-error.js'
import { resolveFile, type TftpClient, type VirtualFileProvider } from './serve-file.js'
import { TransferPool } from './transfer-pool.js'

export type { TftpClient, VirtualFileProvider } from './serve-file.js'

export interface TftpServiceDeps {
  logger: Logger
  /** Consulted before the disk for every read; plugins generate files here. */
  virtualFile?: VirtualFileProvider
  /** Told of every transfer's end (the machine timeline); must not throw or block. */
  onTransfer?: (t: { address: string; file: string; bytes?: number; outcome: 'complete' | 'error' | 'aborted'; ms: number }) => void
}

export interface TftpStats {
  /** Transfers in flight now. */
  active: number
  /** Transfers started since start(). */
  started: number
  /** Requests refused before a transfer started (write, bad path, busy, malformed). */
  refused: number
  /** Transfer worker threads alive (0 when transfers run on the main thread). */
  workers: number
  /** Workers that have loaded and take transfers (the rest run on the main thread). */
  workersReady: number
}

export interface TftpService {
  start(): Promise<void>
  close(): Promise<void>
  address(): { address: string; port: number }
  stats(): TftpStats
  /** Tests only: make one transfer worker crash (an uncaught exception in it). */
  crashWorkerForTest(): void
}

const ERR_ACCESS = errorPacket(2, 'Access violation')
const ERR_READ_ONLY = errorPacket(2, 'Read-only server')
const ERR_ILLEGAL = errorPacket(4, 'Illegal TFTP operation')
const ERR_BUSY = errorPacket(0, 'Server busy, try again later')

interface Transfer {
  /** Ends the transfer with an ERROR to the client, whatever phase it is in. */
  abort(message: string): void
  /** Ends it without a packet: its client's port has sent a new request. */
  drop(): void
  /** The client ACKed a DATA block, so it is past its request (see onMessage). */
  pastRequest: boolean
  /** Settles once its socket is closed. */
  closed: Promise<void>
}

/** Bytes a worker can read without a copy: cached files already are; a plugin's file is copied once. */
function shareable(data: Buffer): Uint8Array {
  if (data.buffer instanceof SharedArrayBuffer) return data
  const copy = Buffer.from(new SharedArrayBuffer(data.length))
  data.copy(copy)
  return copy
}

export function createTftpService(config: TftpConfig, deps: TftpServiceDeps): TftpService {
  const log = deps.logger.child({ service: 'tftp' })
  const family = isIP(config.address) === 6 ? 6 : 4
  const workerCount = config.workers === 'auto' ? availableParallelism() : config.workers
  // Hot boot files (ipxe.efi, undionly.kpxe, pxelinux.0) are read once and sent from memory,
  // shared with the transfer workers rather than copied to them.
  const cache = createFileCache({ maxBytes: config.cacheMaxBytes, maxFileBytes: config.cacheMaxFileBytes, shared: workerCount > 0 })
  const limits = { timeoutMs: config.timeoutMs, retries: config.retries }
  // Keyed by "address|port" of the client: a second RRQ from the same client port while its
  // transfer runs is the client retransmitting its request, not a new transfer.
  const transfers = new Map<string, Transfer>()
  // Every transfer until its socket is closed, including dropped ones no longer in `transfers`.
  const live = new Set<Transfer>()
  const counters = { started: 0, refused: 0 }
  let socket: Socket | undefined
  let pool: TransferPool | undefined
  let closing = false

  function refuse(packet: Buffer, to: RemoteInfo, reason: string, request?: object): void {
    counters.refused++
    // debug, not warn: a flood of junk must not become a flood of log lines.
    log.debug({ client: { address: to.address, port: to.port }, reason, request }, 'tftp request refused')
    socket?.send(packet, to.port, to.address)
  }

  function onMessage(packet: Buffer, from: RemoteInfo): void {
    if (closing) return
    const parsed = parseRequest(packet)
    if (parsed.kind === 'stray') return
    if (parsed.kind === 'malformed') return refuse(ERR_ILLEGAL, from, parsed.reason)
    if (parsed.kind === 'write') return refuse(ERR_READ_ONLY, from, 'write request')
    const path = checkRelativePath(parsed.file)
    if (!path.ok) {
      counters.refused++
      // A path attack is worth a warning (with the name under a fixed key), unlike plain junk.
      log.warn({ client: { address: from.address, port: from.port }, request: { file: parsed.file }, reason: path.reason }, 'tftp request refused')
      socket?.send(path.reason === 'not-a-file' ? errorPacket(1, 'File not found') : ERR_ACCESS, from.port, from.address)
      return
    }
    const key = `${from.address}|${from.port}`
    const existing = transfers.get(key)
    if (existing) {
      // Before any ACK it is the client retransmitting its request: ignored.
      if (!existing.pastRequest) return
      // After the client ACKed data, its port sending an RRQ is a new request on a reused port (a
      // rebooted PXE ROM, the next client on a busy host) that must not wait for the old
      // transfer's retries to run out. The old one ends quietly: its client has moved on.
      existing.drop()
      transfers.delete(key)
    }
    if (transfers.size >= config.maxConnections) return refuse(ERR_BUSY, from, 'busy', { file: path.relative })
    startTransfer(key, from, path.relative, parsed.options)
  }

  function startTransfer(key: string, from: RemoteInfo, file: string, requested: ReadRequest['options']): void {
    const client: TftpClient = { address: from.address, port: from.port }
    const tlog = log.child({ client })
    const startedAt = process.hrtime.bigint()
    counters.started++
    let running: RunningTransfer | undefined
    let abortedWith: string | undefined
    let settle: () => void = () => undefined
    const closed = new Promise<void>((resolve) => {
      settle = resolve
    })
    let dropped = false
    const record: Transfer = {
      closed,
      pastRequest: false,
      abort(message) {
        if (running) return running.abort(message)
        // Still resolving (a slow plugin, say): tell the client now, not when resolution ends.
        if (abortedWith !== undefined || dropped) return
        abortedWith = message
        void sendError(family, config.address, client, errorPacket(0, message), tlog).then(finish)
      },
      drop() {
        if (running) return running.drop()
        if (abortedWith !== undefined || dropped) return
        dropped = true
        finish()
      },
    }
    function finish() {
      if (transfers.get(key) === record) transfers.delete(key)
      live.delete(record)
      settle()
    }
    transfers.set(key, record)
    live.add(record)
    void resolveFile(file, client, { root: config.root, virtualFile: deps.virtualFile, virtualFileTimeoutMs: config.virtualFileTimeoutMs, cache, log: tlog }).then((resolved) => {
      if (abortedWith !== undefined || dropped) {
        if (resolved.ok && 'handle' in resolved) void resolved.handle.close().catch(() => undefined)
        return
      }
      if (!resolved.ok) {
        void sendError(family, config.address, client, errorPacket(resolved.code, resolved.message), tlog).then(finish)
        return
      }
      const handle = 'handle' in resolved ? resolved.handle : undefined
      const size = 'data' in resolved ? resolved.data.length : resolved.size
      const negotiated = negotiate(requested, size, config)
      const source: TransferSpec['source'] = 'data' in resolved ? { kind: 'data', data: pool ? shareable(resolved.data) : resolved.data } : { kind: 'fd', fd: resolved.handle.fd, size }
      const spec: TransferSpec = { family, address: config.address, client, source, negotiated, limits }
      const onEnd = ({ outcome, error }: TransferEnd) => {
        // The descriptor is this thread's: closed only once the worker has stopped reading it.
        if (handle) void handle.close().catch(() => undefined)
        finish()
        const ms = Number(process.hrtime.bigint() - startedAt) / 1e6
        deps.onTransfer?.({ address: from.address, file, bytes: size, outcome: outcome === 'complete' || outcome === 'aborted' ? outcome : 'error', ms: Math.round(ms) })
        if (outcome === 'complete') {
          tlog.info({ request: { file }, bytes: size, blksize: negotiated.blksize, windowsize: negotiated.windowsize, ms }, 'tftp transfer complete')
        } else if (outcome !== 'aborted') {
          tlog.info({ request: { file }, outcome, ...(error !== undefined && { err: new Error(error) }) }, 'tftp transfer ended with error')
        }
      }
      const events = {
        onEnd,
        onFirstAck: () => {
          record.pastRequest = true
        },
      }
      running = pool && pool.readyCount() > 0 ? pool.start(spec, events) : runTransfer(spec, events)
    })
  }

  function address(): { address: string; port: number } {
    if (!socket) throw new Error('tftp service is not listening')
    const { address: bound, port } = socket.address()
    return { address: bound, port }
  }

  return {
    async start() {
      if (!config.enabled) {
        log.info('tftp service disabled')
        return
      }
      if (isIP(config.address) === 0) {
        throw new BootpolicyError('BP_ERR_CONFIG_INVALID', { details: 'tftp/address is not an IP address' })
      }
      const info = await stat(config.root).catch((err: unknown) => {
        throw new BootpolicyError('BP_ERR_TFTP_ROOT', { root: config.root }, { cause: err })
      })
      if (!info.isDirectory()) throw new BootpolicyError('BP_ERR_TFTP_ROOT', { root: config.root })
      const listening = dgram.createSocket(family === 6 ? 'udp6' : 'udp4')
      await new Promise<void>((resolve, reject) => {
        listening.once('error', reject)
        listening.bind({ port: config.port, address: config.address, exclusive: true }, () => {
          listening.off('error', reject)
          resolve()
        })
      }).catch((err: unknown) => {
        listening.close()
        throw new BootpolicyError('BP_ERR_TFTP_BIND', { address: config.address, port: config.port }, { cause: err })
      })
      // After binding, socket errors (e.g. ICMP-driven ECONNREFUSED on some systems) are logged, not fatal.
      listening.on('error', (err) => log.error({ err }, 'tftp socket error'))
      listening.on('message', onMessage)
      socket = listening
      closing = false
      if (workerCount > 0) {
        pool = new TransferPool(workerCount, {
          onWorkerExit: ({ code, lost }) => log.error({ code, lost }, 'tftp transfer worker exited'),
        })
        // Loaded before start() returns, i.e. before serve drops privileges (transfer-pool.ts).
        if (!(await pool.ready(30_000))) log.warn({ ready: pool.readyCount(), workers: workerCount }, 'tftp transfer workers did not all start; transfers they would take run on the main thread')
      }
      log.info({ address: address(), root: config.root, maxConnections: config.maxConnections, workers: workerCount }, 'tftp service listening')
    },

    async close() {
      closing = true
      const listening = socket
      socket = undefined
      if (listening) await new Promise<void>((resolve) => listening.close(() => resolve()))
      // Abort transfers in flight (the client gets an ERROR) and wait until their sockets are gone.
      const pending = [...live]
      for (const t of pending) t.abort('Server shutting down')
      await Promise.all(pending.map((t) => t.closed))
      await pool?.close()
      pool = undefined
      if (listening) log.info('tftp service closed')
    },

    address,

    stats() {
      return { active: transfers.size, ...counters, workers: pool?.alive() ?? 0, workersReady: pool?.readyCount() ?? 0 }
    },

    crashWorkerForTest() {
      pool?.crashOneForTest()
    },
  }
}
