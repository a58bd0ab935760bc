/**
 * A PXE ROM's TFTP download for the boot-storm generator: lock-step (one ACK per block, RFC 1350),
 * options `tsize` and `blksize` (RFC 2347/2348), from the client's leased address. `probeFirst`
 * models OVMF, which asks for the size in a first request and aborts it after the OACK (ERROR 0)
 * before the real transfer. Retransmits its last packet after 1 s, 5 times at most, as ROMs do;
 * the server's own retransmissions are ACKed again (a duplicate DATA gets the same ACK).
 */
import dgram from 'node:dgram'
import { rrq } from '../../test/helpers/tftp.js'

export interface TftpResult {
  readonly bytes: number
  /** The size the server announced (tsize in the OACK), if it did. */
  readonly tsize?: number
  readonly retransmits: number
}

const RETRY_MS = 1000
const RETRIES = 5

export async function tftpLockstep(options: { localAddress: string; server: string; file: string; blksize: number; probeFirst: boolean }): Promise<TftpResult> {
  let retransmits = 0
  if (options.probeFirst) retransmits += (await transfer({ ...options, abortAfterOack: true })).retransmits
  const r = await transfer({ ...options, abortAfterOack: false })
  return { ...r, retransmits: retransmits + r.retransmits }
}

function ack(block: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt16BE(4, 0)
  b.writeUInt16BE(block & 0xffff, 2)
  return b
}

function parseOack(msg: Buffer): Map<string, string> {
  const parts = msg.subarray(2).toString('latin1').split('\0')
  const out = new Map<string, string>()
  for (let i = 0; i + 1 < parts.length; i += 2) out.set(parts[i]!.toLowerCase(), parts[i + 1]!)
  return out
}

function transfer(o: { localAddress: string; server: string; file: string; blksize: number; abortAfterOack: boolean }): Promise<TftpResult> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4')
    let peerPort: number | undefined
    let blksize = 512
    let tsize: number | undefined
    let expected = 1
    let bytes = 0
    let last = rrq(o.file, 'octet', ['tsize', '0', 'blksize', String(o.blksize)])
    let lastPort = 69
    let tries = 0
    let retransmits = 0
    let timer: NodeJS.Timeout | undefined
    let settled = false
    const finish = (err?: Error): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.close()
      if (err) reject(err)
      else resolve({ bytes, ...(tsize !== undefined ? { tsize } : {}), retransmits })
    }
    const send = (packet: Buffer, port: number): void => {
      last = packet
      lastPort = port
      tries = 0
      socket.send(packet, port, o.server)
      arm()
    }
    let generation = 0
    const arm = (): void => {
      clearTimeout(timer)
      const armed = ++generation
      // Decided after the next poll (setImmediate), so a DATA already received is read first.
      timer = setTimeout(() => setImmediate(() => armed === generation && onTimeout()), RETRY_MS)
    }
    const onTimeout = (): void => {
      if (settled) return
      if (++tries > RETRIES) return finish(new Error(`tftp ${o.file}: no answer after ${RETRIES} retransmissions (block ${expected})`))
      retransmits++
      socket.send(last, lastPort, o.server)
      arm()
    }
    socket.on('error', (err) => finish(err))
    socket.on('message', (msg, rinfo) => {
      if (rinfo.address !== o.server || msg.length < 4) return
      if (peerPort === undefined) peerPort = rinfo.port
      else if (rinfo.port !== peerPort) return // another transfer's TID (RFC 1350 section 4)
      const op = msg.readUInt16BE(0)
      if (op === 5) return finish(new Error(`tftp ${o.file}: server error ${msg.readUInt16BE(2)} ${msg.subarray(4).toString('latin1').replace(/\0.*$/s, '')}`))
      if (op === 6) {
        const opts = parseOack(msg)
        if (opts.has('blksize')) blksize = Number(opts.get('blksize'))
        if (opts.has('tsize')) tsize = Number(opts.get('tsize'))
        if (o.abortAfterOack) {
          const abort = Buffer.concat([Buffer.from([0, 5, 0, 0]), Buffer.from('size probe\0', 'latin1')])
          socket.send(abort, peerPort, o.server, () => finish())
          clearTimeout(timer)
          return
        }
        return send(ack(0), peerPort)
      }
      if (op !== 3) return
      const block = msg.readUInt16BE(2)
      if (block === ((expected - 1) & 0xffff)) {
        // The server did not see our ACK: send it again.
        socket.send(ack(block), peerPort, o.server)
        return
      }
      if (block !== (expected & 0xffff)) return
      const payload = msg.length - 4
      bytes += payload
      expected++
      if (payload < blksize) {
        socket.send(ack(block), peerPort, o.server, () => finish())
        clearTimeout(timer)
        return
      }
      send(ack(block), peerPort)
    })
    socket.bind(0, o.localAddress, () => send(last, 69))
  })
}
