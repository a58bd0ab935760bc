/**
 * A client port that comes back: a rebooted PXE ROM (or the next client on a busy host) sending a
 * new RRQ from the address and port of a transfer that is still waiting for an ACK. Before the
 * client ACKed anything such an RRQ is its own retransmission and is ignored; after, it is a new
 * request and is served at once, and the old transfer ends without a packet.
 */
import t from 'tap'
import dgram, { type Socket } from 'node:dgram'
import { makeTftpTree, opcodeOf, rrq, startTftp } from '../../helpers/tftp.js'

const tree = makeTftpTree()
t.teardown(() => tree.cleanup())
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const ack = (block: number) => Buffer.from([0, 4, (block >> 8) & 255, block & 255])

async function socketOn(port = 0): Promise<{ socket: Socket; got: { msg: Buffer; port: number }[] }> {
  const socket = dgram.createSocket('udp4')
  const got: { msg: Buffer; port: number }[] = []
  socket.on('message', (msg, rinfo) => got.push({ msg, port: rinfo.port }))
  await new Promise<void>((resolve) => socket.bind(port, '127.0.0.1', resolve))
  return { socket, got }
}

async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await pause(20)
  }
}

for (const workers of [2, 0]) {
  t.test(`workers ${workers}: an RRQ from a port that already ACKed data starts a new transfer at once`, async (t) => {
    // A long timeout: any answer within the test comes from the rule, not from a retry running out.
    const { service, port } = await startTftp(tree.root, { workers, timeoutMs: 10_000 })
    t.teardown(() => service.close())
    const { socket, got } = await socketOn()
    t.teardown(() => socket.close())
    socket.send(rrq('big'), port, '127.0.0.1')
    await until('DATA 1', () => got.length === 1)
    // Before any ACK: a second RRQ is a retransmission and gets nothing.
    socket.send(rrq('big'), port, '127.0.0.1')
    await pause(300)
    t.equal(got.length, 1, 'a retransmitted RRQ before any ACK is ignored')
    const first = got[0] as { msg: Buffer; port: number }
    socket.send(ack(1), first.port, '127.0.0.1')
    await until('DATA 2', () => got.length === 2)
    t.equal(got[1]?.msg.readUInt16BE(2), 2)
    // The same port asks again: a new request.
    socket.send(rrq('s511'), port, '127.0.0.1')
    await until('the new transfer', () => got.length === 3)
    const fresh = got[2] as { msg: Buffer; port: number }
    t.equal(opcodeOf(fresh.msg), 3, 'DATA')
    t.equal(fresh.msg.readUInt16BE(2), 1, 'block 1 of the new file')
    t.equal(fresh.msg.length - 4, 511, "the new request's file")
    t.not(fresh.port, first.port, 'from a new transfer port')
    await until('the old transfer to be gone', () => service.stats().active === 1)
    socket.send(ack(1), fresh.port, '127.0.0.1')
    await until('the new transfer to complete', () => service.stats().active === 0)
    t.equal(got.filter((g) => g.port === first.port).length, 2, 'the old transfer sent nothing more (no ERROR)')
  })
}
