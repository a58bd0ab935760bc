/**
 * Standard output's destination: sonic-boom writes (partial writes, EAGAIN, pino's flush at exit),
 * and the lines logged in one turn of the event loop reach it as one string. The first line of a
 * turn is handed over at once (an idle server's line is never held back); the rest are kept in an
 * array and handed over together when the turn ends (setImmediate). Why: sonic-boom appends each
 * line to its pending text and measures that text's UTF-8 length again per line
 * (Buffer.byteLength of up to 16 KiB per decision line while a write is in flight: ~3% of /boot's
 * main thread under load); one hand-over per turn does that once.
 */
import type { DestinationStream, pino } from 'pino'

type SonicBoom = ReturnType<typeof pino.destination>

export interface CoalescedDestination extends DestinationStream {
  /** The sonic-boom that writes. */
  readonly writer: SonicBoom
  flush(cb: (err?: Error | null) => void): void
  flushSync(): void
}

/**
 * Destinations holding lines right now, written out synchronously at exit: pino's own exit flush
 * of sonic-boom may already have run (on-exit-leak-free calls in registration order). One listener
 * for all; a destination is in the set only while it holds lines.
 */
const holding = new Set<() => void>()
process.on('exit', () => {
  for (const flush of holding) {
    try {
      flush()
    } catch {
      // stdout closed or not open: nothing more can be done at exit
    }
  }
})

export function coalesce(boom: SonicBoom): CoalescedDestination {
  let held: string[] = []
  let turn = false
  const handOver = () => {
    turn = false
    if (!held.length) return
    holding.delete(flushSync)
    const text = held.length === 1 ? held[0]! : held.join('')
    held = []
    boom.write(text)
  }
  const flushSync = () => {
    handOver()
    boom.flushSync()
  }
  return {
    writer: boom,
    write(line: string) {
      if (turn) {
        if (!held.length) holding.add(flushSync)
        held.push(line)
      } else {
        turn = true
        setImmediate(handOver)
        boom.write(line)
      }
    },
    flush(cb) {
      handOver()
      boom.flush(cb)
    },
    // pino calls it after a fatal line.
    flushSync,
  }
}
