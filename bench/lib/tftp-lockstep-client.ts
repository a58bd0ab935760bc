/**
 * A lock-step TFTP load generator for bench/tftp-throughput.ts, run as a child process so that it
 * does not share a thread with the server under test: `count` concurrent downloads of one file
 * (RRQ with blksize 1428 and tsize, one ACK per block, as PXE ROMs do), each on its own socket.
 * A transfer that hears nothing for 1 s re-sends its last packet, up to 5 times, then counts as
 * timed out (lost). Prints one JSON line: bytes, seconds, completed, timeouts, resends.
 *   node --import tsx bench/lib/tftp-lockstep-client.ts PORT FILE COUNT
 */
import dgram from 'node:dgram'

const [port, file, count] = [Number(process.argv[2]), process.argv[3] ?? '', Number(process.argv[4] ?? 1)]
const BLKSIZE = 1428
const WAIT_MS = 1000
const TRIES = 5

function rrq(): Buffer {
  return Buffer.from(['', '\u0001' + file, 'octet', 'blksize', String(BLKSIZE), 'tsize', '0', ''].join('\0'), 'latin1')
}

interface Result {
  bytes: number
  ok: boolean
  resends: number
}

function download(): Promise<Result> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4')
    let last = rrq()
    let to = port
    let expected = 1
    let bytes = 0
    let resends = 0
    let silent = 0
    const ack = Buffer.alloc(4)
    ack.writeUInt16BE(4, 0)
    let finished = false
    const finish = (ok: boolean) => {
      if (finished) return
      finished = true
      clearInterval(timer)
      socket.close()
      resolve({ bytes, ok, resends })
    }
    let heard = Date.now()
    // Checked 4× per WAIT_MS: a resend only after WAIT_MS of silence, never while data flows.
    const timer = setInterval(() => {
      if (Date.now() - heard < WAIT_MS) return
      heard = Date.now()
      if (++silent > TRIES) return finish(false)
      resends++
      socket.send(last, to, '127.0.0.1')
    }, WAIT_MS / 4)
    socket.on('message', (msg, rinfo) => {
      // RFC 1350: the first reply fixes the server's transfer port; anything from another port
      // (a stale transfer that last used this client port) is not ours.
      if (to !== port && rinfo.port !== to) return
      const op = msg.readUInt16BE(0)
      if (op === 5) return finish(false)
      to = rinfo.port
      heard = Date.now()
      if (op === 6) {
        ack.writeUInt16BE(0, 2)
        last = ack
        silent = 0
        socket.send(ack, to, '127.0.0.1')
        return
      }
      if (op !== 3) return
      const block = msg.readUInt16BE(2)
      if (block !== (expected & 0xffff)) {
        // A duplicate of the previous block: our ACK was lost; say it again.
        if (block === ((expected - 1) & 0xffff)) socket.send(last, to, '127.0.0.1')
        return
      }
      silent = 0
      bytes += msg.length - 4
      ack.writeUInt16BE(block, 2)
      last = ack
      expected++
      // The last ACK must leave before the socket closes (a send still in flight is dropped by
      // close(), and the server would then resend the last block to a closed port).
      if (msg.length - 4 < BLKSIZE) socket.send(ack, to, '127.0.0.1', () => finish(true))
      else socket.send(ack, to, '127.0.0.1')
    })
    socket.bind(0, '127.0.0.1', () => socket.send(last, port, '127.0.0.1'))
  })
}

const started = process.hrtime.bigint()
const results = await Promise.all(Array.from({ length: count }, download))
const seconds = Number(process.hrtime.bigint() - started) / 1e9
const completed = results.filter((r) => r.ok).length
process.stdout.write(`${JSON.stringify({ bytes: results.reduce((n, r) => n + r.bytes, 0), seconds, completed, timeouts: count - completed, resends: results.reduce((n, r) => n + r.resends, 0) })}\n`)
