/**
 * Fuzz: over 10,000 malformed or hostile datagrams at the listening port and at live transfer
 * sockets, then a real client must still download byte-identical. A crash anywhere in the service
 * (or the npm package under it) would kill this process and fail the file. Seeded: set
 * TFTP_FUZZ_SEED to replay a run.
 */
import t from 'tap'
import dgram, { type Socket } from 'node:dgram'
import path from 'node:path'
import { curlGet, makeTftpTree, rrq, sha256File, startTftp } from '../../helpers/tftp.js'

const seed = Number(process.env.TFTP_FUZZ_SEED ?? Date.now() % 2 ** 31)
t.comment(`TFTP_FUZZ_SEED=${seed}`)
let state = seed
/** mulberry32: small, fast, reproducible. */
function random(): number {
  state = (state + 0x6d2b79f5) | 0
  let x = Math.imul(state ^ (state >>> 15), 1 | state)
  x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
  return ((x ^ (x >>> 14)) >>> 0) / 4294967296
}
const int = (n: number) => Math.floor(random() * n)
const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T
const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)))

const FILES = ['s512', 'big', 'empty', 'missing', '../outside/secret', 'link-out', 'pxelinux.cfg', '', 'a'.repeat(300)]
const BAD_NUMBERS = ['0', '7', '8', '65464', '65465', '-1', '1e3', '0x10', '', ' 512', '512 ', '99999999999', 'abc', '1.5', '+8', '00000000512']
const OPTION_NAMES = ['blksize', 'BLKSIZE', 'tsize', 'windowsize', 'WindowSize', 'rollover', 'timeout', 'utimeout', 'x']

const generators: (() => Buffer)[] = [
  () => bytes(int(600)), // random bytes, any length
  () => Buffer.concat([Buffer.from([int(256), pick([0, 7, 8, 255, int(256)])]), bytes(int(40))]), // bad opcodes
  () => {
    const p = rrq(pick(FILES), 'octet', ['blksize', '1428', 'tsize', '0'])
    return p.subarray(0, int(p.length))
  }, // truncated RRQ
  () =>
    rrq(
      pick(FILES),
      'octet',
      Array.from({ length: 2 * (50 + int(200)) }, () => pick(OPTION_NAMES)),
    ), // huge option lists (often > 512)
  () => {
    const p = rrq(pick(FILES), pick(['octet', 'netascii', 'mail', 'OCTET', '']))
    return p.subarray(0, p.length - 1 - int(3))
  }, // unterminated strings
  () => rrq(pick(FILES), 'octet', [pick(OPTION_NAMES), pick(BAD_NUMBERS), pick(OPTION_NAMES), pick(BAD_NUMBERS)]), // bad option values
  () => rrq(Buffer.concat([Buffer.from(pick(FILES)), bytes(1 + int(8))]), 'octet'), // non-ASCII and NUL inside names
  () => rrq(pick(FILES), 'octet', ['blksize']), // option without value
  () => Buffer.concat([Buffer.from([0, pick([2, 3, 4, 5, 6])]), bytes(int(30))]), // WRQ, DATA, ACK, ERROR, OACK at port 69
]

async function openSockets(n: number): Promise<Socket[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const s = dgram.createSocket('udp4')
      s.on('message', () => undefined)
      s.on('error', () => undefined)
      await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve))
      return s
    }),
  )
}
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const tree = makeTftpTree()
t.teardown(() => tree.cleanup())
// Short timeouts so transfers the fuzzer starts (and never acknowledges) drain quickly.
const { service, port } = await startTftp(tree.root, { timeoutMs: 100, retries: 1 }, async (file) => (file === 'virtual' ? Buffer.from('v') : undefined))
t.teardown(() => service.close())

t.test('10,000 malformed packets at the listening port', async (t) => {
  const sockets = await openSockets(32)
  let sent = 0
  while (sent < 10_000) {
    for (let i = 0; i < 200; i++, sent++) pick(sockets).send(pick(generators)(), port, '127.0.0.1')
    // Let the loop breathe so the kernel's socket buffers are not simply overrun.
    await pause(2)
  }
  await pause(200)
  for (const s of sockets) s.close()
  t.ok(sent >= 10_000, `${sent} packets sent`)
  t.ok(service.stats().refused > 0, `${service.stats().refused} refused`)
})

t.test('hostile packets at live transfer sockets (early, duplicate and wild ACKs, DATA, ERROR, runts)', async (t) => {
  let packets = 0
  for (let round = 0; round < 300; round++) {
    const [client, stranger] = (await openSockets(2)) as [Socket, Socket]
    const options = pick([[], ['blksize', '1428', 'tsize', '0'], ['blksize', '512', 'windowsize', '4'], ['tsize', '0']])
    const transferPort = new Promise<number>((resolve) => client.once('message', (_m, rinfo) => resolve(rinfo.port)))
    client.send(rrq(pick(['big', 's512', 'empty', 'virtual']), 'octet', options), port, '127.0.0.1')
    const tid = await Promise.race([transferPort, pause(500).then(() => 0)])
    if (tid) {
      for (let i = 0; i < 10; i++, packets++) {
        const block = pick([0, 1, 2, 3, 4, 5, int(65536), 65535])
        const ack = Buffer.from([0, 4, block >> 8, block & 255])
        const packet = pick([
          ack,
          ack,
          ack,
          Buffer.from([0, 3, 0, 1, 1, 2]),
          Buffer.from([0, 5, 0, 0]),
          Buffer.from([0, 5, 0, 1, 65, 0]),
          Buffer.from([0]),
          Buffer.alloc(0),
          Buffer.from([0, 4, 0]),
          bytes(int(20)),
        ])
        pick([client, client, stranger]).send(packet, tid, '127.0.0.1')
      }
    }
    await pause(1)
    client.close()
    stranger.close()
  }
  t.ok(packets > 1000, `${packets} packets at transfer sockets`)
})

t.test('afterwards the service drains and a real download is byte-identical', async (t) => {
  const deadline = Date.now() + 10_000
  while (service.stats().active > 0 && Date.now() < deadline) await pause(50)
  t.equal(service.stats().active, 0, 'every fuzzed transfer ended')
  const file = path.join(tree.base, 'after-fuzz')
  const r = await curlGet(port, 'big', file, ['--tftp-blksize', '1428'])
  t.equal(r.code, 0, r.stderr)
  t.equal(sha256File(file), tree.sha.big)
})

t.test('a duplicated ACK at a 64 KiB read boundary does not crash the server (npm tftp bug)', async (t) => {
  // Lock-step, 512-byte blocks: block 128 ends the first 64 KiB read. After its ACK the package
  // waits for the next read; a duplicate ACK in that gap made its Window call a null callback.
  for (const boundary of [128, 256, 384]) {
    const [client] = (await openSockets(1)) as [Socket]
    const done = new Promise<void>((resolve) => {
      client.on('message', (msg, rinfo) => {
        if (msg.readUInt16BE(0) !== 3) return resolve()
        const block = msg.readUInt16BE(2)
        const ack = Buffer.from([0, 4, block >> 8, block & 255])
        client.send(ack, rinfo.port, '127.0.0.1')
        if (block === boundary) {
          client.send(ack, rinfo.port, '127.0.0.1')
          client.send(ack, rinfo.port, '127.0.0.1')
        }
        if (msg.length < 516 || block > boundary + 2) resolve()
      })
    })
    client.send(rrq('big'), port, '127.0.0.1')
    await Promise.race([done, pause(3000)])
    client.close()
  }
  const file = path.join(tree.base, 'after-dup-ack')
  t.equal((await curlGet(port, 's512', file)).code, 0, 'still serving')
})
