/**
 * Typed access to the parts of the npm `tftp` package (gagle, pinned at exactly 0.1.2) that we use.
 *
 * Why not its `Server`: it binds every transfer socket to 0.0.0.0 (so transfers are reachable on all
 * interfaces even when the service listens on loopback), never checks the sender of a packet on a
 * transfer socket (anyone can inject ACKs or ERRORs), answers ERROR packets with ERROR packets (two
 * servers can ping-pong forever), has no concurrency limit and follows symlinks out of its root.
 * We keep what it does well — option negotiation (OACK with blksize, tsize, windowsize), windowed
 * sending, retransmission and streaming — by driving its server-side streams ourselves with sockets
 * we create and constrain. The deep imports are why the version is pinned exactly: re-check this
 * file before any upgrade.
 */
import { createRequire } from 'node:module'
import type { Readable, Writable } from 'node:stream'
import type { Socket, RemoteInfo } from 'node:dgram'

const require = createRequire(import.meta.url)

/** Options in the shape the package's streams read (the output of its create-options.js). */
export interface PackageOptions {
  readonly retries: number
  readonly extensions: { blksize: number; timeout: number; windowsize: number; rollover: number }
}

export interface TransferStats {
  blockSize: number
  windowSize: number
  size: number | null
  localAddress: string
  localPort: number
  remoteAddress: string
  remotePort: number
}

/** The "connection" side of a transfer: errors, close and abort are emitted here. */
export interface PackageGetStream extends Readable {
  file: string
  method: 'GET' | 'PUT'
  stats: TransferStats
  /** Sends an ERROR packet (code looked up from the message, else 0) and closes the transfer. */
  abort(message?: string): void
}

/** The data side: write file bytes into it after `setSize`. */
export interface PackagePutStream extends Writable {
  onReady: () => void
  /** Announces the size (tsize in the OACK) and lets the transfer start. Must be called exactly once. */
  setSize(size: number): void
}

interface HelperLike {
  _rinfo: RemoteInfo
  _socket: Socket
  sendErrorAndClose(error: { code: number; message: string }): void
}

type GetStreamCtor = new () => PackageGetStream
type PutStreamCtor = new (
  currFiles: { get: Record<string, boolean>; put: Record<string, boolean> },
  helper: HelperLike,
  message: Buffer,
  options: PackageOptions,
  getStream: PackageGetStream,
) => PackagePutStream

const GetStream = require('tftp/lib/streams/server/get-stream.js') as GetStreamCtor
const PutStream = require('tftp/lib/streams/server/put-stream.js') as PutStreamCtor
const { Helper } = require('tftp/lib/protocol/request.js') as { Helper: { prototype: HelperLike } }
const createOptions = require('tftp/lib/create-options.js') as (opts: object, server: boolean) => PackageOptions

interface WindowLike {
  _cb: (() => void) | null | undefined
  _end: number
  _blocks: { block: number }[]
  resume(block: number): void
}
const ServerWriter = require('tftp/lib/protocol/server/writer.js') as {
  prototype: { _onAck(ack: { block: number }): void; _window: WindowLike | null; __bootpolicyAckGuard?: true }
}

/*
 * Guard the sender's ACK handling (applied once per process, to the package's server-side writer).
 * The package's Window.resume() assumes every ACK answers the window it is waiting for. It crashes
 * the whole process (TypeError on a null callback or an empty block list) when an ACK arrives while
 * no window is outstanding — an early ACK 0, a late duplicate, or any ACK between two file chunks —
 * and on a duplicate ACK it resends *and* advances (the Sorcerer's Apprentice bug). One packet from
 * a client could take the server down. We pass an ACK on only when a window is outstanding and the
 * ACK names its last block or a block we still hold; anything else is ignored, and the
 * retransmission timer resends if the client really lost data (RFC 1350's cure for the Apprentice).
 */
if (!ServerWriter.prototype.__bootpolicyAckGuard) {
  const originalOnAck = ServerWriter.prototype._onAck
  ServerWriter.prototype._onAck = function guardedOnAck(this: typeof ServerWriter.prototype, ack) {
    const window = this._window
    if (!window?._cb) return
    if (ack.block !== window._end && !window._blocks.some((b) => b.block === ack.block)) return
    originalOnAck.call(this, ack)
  }
  ServerWriter.prototype.__bootpolicyAckGuard = true
}

/** RFC 1350 / 2347 error messages the package maps back to their codes in `abort(message)`. */
export const TFTP_MESSAGES = {
  notFound: 'File not found', // code 1
  accessViolation: 'Access violation', // code 2
} as const

/**
 * Leave tsize out of the OACK for an empty file. curl (7.88 at least) rejects `tsize 0` as invalid
 * and fails the download — against tftpd-hpa too. RFC 2349 lets a server decline any option. If
 * tsize was the only option, no OACK is sent at all and data starts at once (RFC 2347: a server
 * that declines every option answers as if none were asked). Call before `setSize(0)`.
 */
export function declineTsize(res: PackagePutStream): void {
  const writer = (res as unknown as { _writer: IncomingWriterLike })._writer
  const ext = writer._responseExtensions
  if (!ext || ext.tsize === undefined) return
  delete ext.tsize
  if (Object.keys(ext).length === 0) {
    writer._requestExtensions = null
    writer._oackSent = false
  }
}

interface IncomingWriterLike {
  _responseExtensions: Record<string, unknown> | null
  _requestExtensions: unknown
  _oackSent: boolean
}

export function packageOptions(limits: { blksizeMax: number; windowsizeMax: number; timeoutMs: number; retries: number }): PackageOptions {
  const options = createOptions({ blockSize: limits.blksizeMax, windowSize: limits.windowsizeMax, timeout: limits.timeoutMs, retries: limits.retries }, true)
  // create-options turns 0 retries into 1 (`n < 1 ? 1 : n`); honour 0 deliberately.
  return { ...options, retries: limits.retries }
}

/**
 * Start the package's read-transfer state machine on a socket we own. `message` must be a
 * well-formed RRQ (we rebuild it canonically before this point), so the package's own parser
 * accepts it; `onReady` fires once the socket is bound and options are negotiated.
 */
export function startReadTransfer(
  socket: Socket,
  client: RemoteInfo,
  message: Buffer,
  options: PackageOptions,
  onReady: (req: PackageGetStream, res: PackagePutStream) => void,
): { req: PackageGetStream; res: PackagePutStream } {
  const helper = Object.create(Helper.prototype) as HelperLike
  helper._rinfo = client
  helper._socket = socket
  const req = new GetStream()
  // A fresh bookkeeping object per transfer: the package uses it only to refuse reads of files
  // being written, and this service never writes.
  const res = new PutStream({ get: {}, put: {} }, helper, message, options, req)
  res.onReady = () => onReady(req, res)
  return { req, res }
}
