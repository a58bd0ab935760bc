/**
 * Run one resolved transfer to its end: open its socket (transfer-socket.ts), send the file with
 * SendTransfer, close the socket, then report how it ended. The same function runs on the main
 * thread (`tftp.workers: 0`) and inside a transfer worker (transfer-worker.ts), so both paths keep
 * the same protocol rules. Everything in a TransferSpec survives postMessage: the file is either
 * bytes in memory (shared, not copied, when they live in a SharedArrayBuffer) or the number of a
 * descriptor the main thread opened, checked and closes after the end.
 */
import { bufferSource, fdSource } from './block-source.js'
import type { Negotiated } from './negotiate.js'
import { errorPacket } from './parse-request.js'
import { SendTransfer, type SendLimits, type TransferOutcome } from './send-transfer.js'
import { createTransferSocket } from './transfer-socket.js'

export interface TransferSpec {
  family: 4 | 6
  /** The service's address; the transfer socket binds an ephemeral port on it. */
  address: string
  client: { address: string; port: number }
  source: { kind: 'data'; data: Uint8Array } | { kind: 'fd'; fd: number; size: number }
  negotiated: Negotiated
  limits: SendLimits
}

export interface TransferEnd {
  outcome: TransferOutcome
  /** Why it failed ('error' only): a message, never file contents. */
  error?: string
}

export interface RunningTransfer {
  /** Ends the transfer with ERROR 0 `message` to the client, whatever phase it is in. */
  abort(message: string): void
  /** Ends the transfer without a packet (its client port now belongs to a new request). */
  drop(): void
}

export interface TransferEvents {
  onEnd(end: TransferEnd): void
  /** The client ACKed its first DATA block: a later RRQ from its port is a new request. */
  onFirstAck(): void
}

const asBuffer = (u: Uint8Array) => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength))

export function runTransfer(spec: TransferSpec, events: TransferEvents): RunningTransfer {
  const { socket, ready } = createTransferSocket(spec.family, spec.address, spec.client)
  let sender: SendTransfer | undefined
  let abortedWith: string | undefined
  let dropped = false
  let ended = false
  const end = (result: TransferEnd) => {
    if (ended) return
    ended = true
    socket.close(() => events.onEnd(result))
  }
  // Always listened to (an unheard 'error' would throw out of the event loop). Once connected, an
  // error is the kernel reporting the client gone (ICMP unreachable): end without an answer.
  socket.on('error', () => sender?.clientGone())
  ready.then(
    () => {
      if (dropped) return end({ outcome: 'aborted' })
      if (abortedWith !== undefined) {
        socket.send(errorPacket(0, abortedWith), () => end({ outcome: 'aborted' }))
        return
      }
      const negotiated = { ...spec.negotiated, oack: spec.negotiated.oack && asBuffer(spec.negotiated.oack) }
      const source = spec.source.kind === 'data' ? bufferSource(asBuffer(spec.source.data), negotiated.blksize) : fdSource(spec.source.fd, spec.source.size, negotiated.blksize, negotiated.windowsize)
      sender = new SendTransfer(
        socket,
        source,
        negotiated,
        spec.limits,
        (outcome: TransferOutcome, err?: unknown) => {
          end(outcome === 'error' ? { outcome, error: err instanceof Error ? err.message : String(err) } : { outcome })
        },
        events.onFirstAck,
      )
    },
    (err: unknown) => end({ outcome: 'error', error: `transfer socket: ${err instanceof Error ? err.message : String(err)}` }),
  )
  return {
    abort(message) {
      if (sender) return sender.abort(message)
      abortedWith ??= message
    },
    drop() {
      if (sender) return sender.clientGone()
      dropped = true
    },
  }
}
