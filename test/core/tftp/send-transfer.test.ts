/**
 * Hazards of the sender (core/tftp/send-transfer.ts), driven by a raw client over real sockets:
 * ACKs outside the window (early, wild, duplicate) must neither crash nor cause resends (the
 * Sorcerer's Apprentice); block numbers must roll over past 65535 and the file still arrive whole;
 * a client that vanishes must free its slot after one timeout, not after every retry.
 */
import t from 'tap'
import dgram, { type Socket } from 'node:dgram'
import { writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { makeTftpTree, rrq, sha256, startTftp } from '../../helpers/tftp.js'

const tree = makeTftpTree()
t.teardown(() => tree.cleanup())
const rolloverFile = randomBytes(0x10000 * 8 + 100)
writeFileSync(path.join(tree.root, 'rollover'), rolloverFile)
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function clientSocket(): Promise<Socket> {
  const s = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve))
  return s
}
const ack = (block: number) => Buffer.from([0, 4, (block >> 8) & 255, block & 255])

t.test('early, wild and duplicate ACKs cause no resend, and the file arrives whole', async (t) => {
  // A long timeout: any DATA seen twice is then an ACK-driven resend, not a timer one.
  const { service, port } = await startTftp(tree.root, { timeoutMs: 5000 })
  t.teardown(() => service.close())
  const client = await clientSocket()
  t.teardown(() => client.close())
  const seen = new Map<number, number>()
  const chunks: Buffer[] = []
  const done = new Promise<void>((resolve) => {
    client.on('message', (msg, rinfo) => {
      t.equal(msg.readUInt16BE(0), 3, 'only DATA')
      const block = msg.readUInt16BE(2)
      seen.set(block, (seen.get(block) ?? 0) + 1)
      if (seen.get(block) === 1) chunks.push(msg.subarray(4))
      // Before the real ACK: an early ACK 0, a wild one and the previous block's again.
      client.send(ack(0), rinfo.port, '127.0.0.1')
      client.send(ack(block + 7), rinfo.port, '127.0.0.1')
      client.send(ack(block - 1), rinfo.port, '127.0.0.1')
      client.send(ack(block), rinfo.port, '127.0.0.1')
      client.send(ack(block), rinfo.port, '127.0.0.1')
      if (msg.length < 516) resolve()
    })
  })
  client.send(rrq('big'), port, '127.0.0.1')
  await Promise.race([done, pause(30_000)])
  t.equal(sha256(Buffer.concat(chunks)), tree.sha.big, 'byte-identical')
  t.same(
    [...seen.values()].filter((n) => n > 1),
    [],
    'no block was sent twice',
  )
})

t.test('block numbers roll over after 65535 to 0 and the file arrives whole (windowed)', async (t) => {
  const { service, port } = await startTftp(tree.root, { timeoutMs: 5000, windowsizeMax: 16 })
  t.teardown(() => service.close())
  const client = await clientSocket()
  t.teardown(() => client.close())
  const chunks: Buffer[] = []
  const wires: number[] = []
  let expected = 1
  const done = new Promise<void>((resolve) => {
    client.on('message', (msg, rinfo) => {
      const op = msg.readUInt16BE(0)
      if (op === 6) return client.send(ack(0), rinfo.port, '127.0.0.1')
      const block = msg.readUInt16BE(2)
      if (block !== (expected & 0xffff)) return
      if (expected > 0xfffe && expected < 0x10003) wires.push(block)
      chunks.push(msg.subarray(4))
      const last = msg.length - 4 < 8
      if (last || expected % 16 === 0) client.send(ack(block), rinfo.port, '127.0.0.1')
      expected++
      if (last) resolve()
    })
  })
  client.send(rrq('rollover', 'octet', ['blksize', '8', 'windowsize', '16']), port, '127.0.0.1')
  await Promise.race([done, pause(60_000)])
  t.same(wires, [0xffff, 0, 1, 2], 'wire numbers 65535, 0, 1, 2')
  t.equal(sha256(Buffer.concat(chunks)), sha256(rolloverFile), 'byte-identical across the rollover')
})

t.test('a client that vanishes mid-transfer frees its slot after one timeout, not after every retry', async (t) => {
  const timeoutMs = 1000
  const { service, port } = await startTftp(tree.root, { timeoutMs, retries: 10 })
  t.teardown(() => service.close())
  const client = await clientSocket()
  await new Promise<void>((resolve) => {
    client.once('message', () => resolve())
    client.send(rrq('big'), port, '127.0.0.1')
  })
  t.equal(service.stats().active, 1)
  client.close()
  const started = Date.now()
  // The first resend meets a closed port; the kernel's ICMP reply ends the transfer.
  while (service.stats().active > 0 && Date.now() - started < 11 * timeoutMs) await pause(50)
  const took = Date.now() - started
  t.equal(service.stats().active, 0, 'slot freed')
  t.ok(took < 4 * timeoutMs, `freed after ${took} ms (all retries would take ${11 * timeoutMs} ms)`)
})
