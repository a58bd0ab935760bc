/**
 * The sender of one read transfer: OACK, windowed DATA, ACK handling, retransmission. It replaces
 * the npm `tftp` package's streams, whose per-block Buffer copies, stream plumbing and timer churn
 * made lock-step transfers about half as fast as tftpd-hpa, and which crashed the process on an ACK
 * outside a window.
 *
 * Per block it does one `send` of [header, slice] (no copy: the slice is the cached file or the
 * transfer's chunk) and refreshes one timer; nothing else allocates. Rules:
 * - RFC 1350: lock-step is windowsize 1. Block numbers wrap after 65535 to `rollover` (0 unless the
 *   client negotiated 1).
 * - An ACK counts only when it names a block of the window in flight: it moves the window to just
 *   after it and the next window goes out at once (RFC 7440). A duplicate or stale ACK is ignored
 *   (no resend): resending on duplicates is the Sorcerer's Apprentice bug; the timer resends if
 *   the client really lost data.
 * - After an OACK only ACK 0 starts the data (RFC 2347); an ERROR from the client ends the transfer
 *   without an answer. DATA, RRQ and runts on a transfer socket are ignored.
 * - Timeout: the window (or the OACK) is resent up to `retries` times since the last progress,
 *   then the transfer ends quietly ('timeout').
 * The socket is connected to the client, so the kernel delivers nothing from anyone else.
 */
import type { Socket } from 'node:dgram'
import type { BlockSource } from './block-source.js'
import type { Negotiated } from './negotiate.js'
import { OPCODE, errorPacket } from './parse-request.js'

export type TransferOutcome = 'complete' | 'timeout' | 'client-error' | 'aborted' | 'error'

export interface SendLimits {
  readonly timeoutMs: number
  readonly retries: number
}

export class SendTransfer {
  private readonly headers: Buffer
  private readonly lastBlock: number
  private state: 'oack' | 'data' | 'done' = 'oack'
  /** Highest block the client acknowledged (0 before any). */
  private base = 0
  /** Highest block sent in the current window. */
  private sentUpTo = 0
  private retriesLeft: number
  private readonly timer: NodeJS.Timeout

  constructor(
    private readonly socket: Socket,
    private readonly source: BlockSource,
    private readonly negotiated: Negotiated,
    private readonly limits: SendLimits,
    private readonly onEnd: (outcome: TransferOutcome, err?: unknown) => void,
    /** Called once, at the first ACK of a DATA block: from then on the client is past its request. */
    private readonly onFirstAck: () => void = () => undefined,
  ) {
    this.headers = Buffer.alloc(4 * negotiated.windowsize)
    for (let i = 0; i < negotiated.windowsize; i++) this.headers.writeUInt16BE(OPCODE.DATA, 4 * i)
    this.lastBlock = Math.floor(source.size / negotiated.blksize) + 1
    this.retriesLeft = limits.retries
    this.timer = setTimeout(() => this.onTimeout(), limits.timeoutMs)
    socket.on('message', (msg: Buffer) => this.onMessage(msg))
    if (negotiated.oack) {
      socket.send(negotiated.oack)
    } else {
      this.state = 'data'
      this.sendWindow()
    }
  }

  /**
   * Ends the transfer without a packet: the kernel said the client's port is closed (ICMP). An
   * ERROR there would be worse than useless: the port may already belong to another client (the
   * next machine's PXE ROM on a reused port), which would take it for its own transfer's end.
   */
  clientGone(): void {
    this.finish('aborted')
  }

  /** Ends the transfer with an ERROR packet to the client (code 0 unless given). */
  abort(message: string, code = 0): void {
    if (this.state === 'done') return
    this.socket.send(errorPacket(code, message))
    this.finish('aborted')
  }

  private wire(n: number): number {
    if (n <= 0xffff) return n
    const r = this.negotiated.rollover
    return ((n - 0x10000) % (0x10000 - r)) + r
  }

  private onMessage(msg: Buffer): void {
    if (this.state === 'done' || msg.length < 4) return
    const opcode = msg.readUInt16BE(0)
    if (opcode === OPCODE.ERROR) return this.finish('client-error')
    if (opcode !== OPCODE.ACK) return
    const block = msg.readUInt16BE(2)
    if (this.state === 'oack') {
      if (block !== 0) return
      this.state = 'data'
      this.retriesLeft = this.limits.retries
      return this.sendWindow()
    }
    let acked = 0
    for (let n = this.base + 1; n <= this.sentUpTo; n++) {
      if (this.wire(n) === block) {
        acked = n
        break
      }
    }
    if (acked === 0) return
    if (this.base === 0) this.onFirstAck()
    this.base = acked
    this.retriesLeft = this.limits.retries
    if (acked === this.lastBlock) return this.finish('complete')
    this.sendWindow()
  }

  private sendWindow(): void {
    const first = this.base + 1
    const last = Math.min(this.base + this.negotiated.windowsize, this.lastBlock)
    const pending = this.source.ensure(first, last)
    if (pending) {
      pending.then(
        () => {
          // An ACK or an abort may have moved things on while the chunk was read.
          if (this.state === 'data' && this.base + 1 === first) this.sendBlocks(first, last)
        },
        (err: unknown) => {
          if (this.state === 'done') return
          this.socket.send(errorPacket(0, 'I/O error'))
          this.finish('error', err)
        },
      )
      return
    }
    this.sendBlocks(first, last)
  }

  private sendBlocks(first: number, last: number): void {
    const w = this.negotiated.windowsize
    for (let n = first; n <= last; n++) {
      const slot = (n % w) * 4
      const header = this.headers.subarray(slot, slot + 4)
      header.writeUInt16BE(this.wire(n), 2)
      this.socket.send([header, this.source.block(n)])
    }
    this.sentUpTo = last
    this.timer.refresh()
  }

  private onTimeout(): void {
    if (this.state === 'done') return
    if (this.retriesLeft <= 0) return this.finish('timeout')
    this.retriesLeft--
    if (this.state === 'oack') {
      this.socket.send(this.negotiated.oack as Buffer)
      this.timer.refresh()
    } else {
      this.sendWindow()
    }
  }

  private finish(outcome: TransferOutcome, err?: unknown): void {
    if (this.state === 'done') return
    this.state = 'done'
    clearTimeout(this.timer)
    this.source.close()
    this.onEnd(outcome, err)
  }
}
