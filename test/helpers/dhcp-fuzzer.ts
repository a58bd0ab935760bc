/**
 * Sends malformed DHCP datagrams from inside a namespace, deterministically (seeded PRNG).
 * Job on stdin: {"count":10000,"seed":1,"targets":[{"to":"255.255.255.255","port":67}],"sourceAddress":"10.0.0.9"}
 * Prints {"sent":N,"byKind":{...}}. Kinds: random bytes, truncated, wrong cookie, bad option
 * length, huge options, overload abuse, bit flips of a valid DISCOVER, header-only garbage.
 */
import dgram from 'node:dgram'
import { encode } from '../../core/dhcp/packet-codec.js'
import { clientPacket, IPXE_OPTIONS, u16 } from './dhcp-packets.js'

interface Job {
  count: number
  seed: number
  targets: Array<{ to: string; port: number }>
  sourceAddress?: string
}
let input = ''
for await (const chunk of process.stdin) input += String(chunk)
const job = JSON.parse(input) as Job

// mulberry32: small, seedable, good enough to spread cases.
let state = job.seed >>> 0
const rnd = (): number => {
  state = (state + 0x6d2b79f5) >>> 0
  let x = state
  x = Math.imul(x ^ (x >>> 15), x | 1)
  x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
  return ((x ^ (x >>> 14)) >>> 0) / 4294967296
}
const int = (n: number): number => Math.floor(rnd() * n)
const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256)))

// Valid-looking packets come from 8 MACs only, so the fuzz cannot drain the pool.
const valid = (): Buffer =>
  encode(
    clientPacket({
      mac: `02:00:00:00:fe:0${int(8)}`,
      xid: int(0xffffffff),
      options: [[60, 'PXEClient:Arch:00007:UNDI:003016'], [93, u16(7)], ...IPXE_OPTIONS, [61, Buffer.from([0, 0, 1, 0, 0])]],
    }),
  )
const optionsStart = 240
const optEnd = (b: Buffer): number => b.indexOf(255, optionsStart)

const kinds: Record<string, () => Buffer> = {
  random: () => bytes(int(1500)),
  truncated: () => valid().subarray(0, int(optEnd(valid()) + 1)),
  wrongCookie: () => {
    const b = valid()
    b.writeUInt32BE((int(0xffffffff) | 1) >>> 0 === 0x63825363 ? 1 : (int(0xffffffff) | 1) >>> 0, 236)
    return b
  },
  badOptionLength: () => {
    const b = valid()
    const end = optEnd(b)
    const at = optionsStart + 3 + int(end - optionsStart - 3)
    b[at] = 200 + int(56) // most likely a length byte pointing past the end
    return b.subarray(0, end + 1)
  },
  hugeOptions: () => {
    const head = valid().subarray(0, optionsStart + 3)
    const parts = [head]
    for (let i = 0, n = 2 + int(8); i < n; i++) parts.push(Buffer.from([1 + int(250), 255]), bytes(255))
    parts.push(Buffer.from([1 + int(250), 255]), bytes(int(254))) // last one overruns
    return Buffer.concat(parts)
  },
  overload: () => {
    const b = valid()
    const end = optEnd(b)
    const opt = Buffer.from([52, 1, int(6)])
    bytes(192).copy(b, 44) // sname + file full of garbage "options"
    return Buffer.concat([b.subarray(0, end), opt, Buffer.from([255])])
  },
  bitFlips: () => {
    const b = valid()
    for (let i = 0, n = 1 + int(8); i < n; i++) {
      const at = 236 + int(b.length - 236)
      b[at] = b[at]! ^ (1 << int(8))
    }
    return b
  },
  headerGarbage: () => Buffer.concat([bytes(236), Buffer.from([99, 130, 83, 99]), bytes(int(64))]),
}
const names = Object.keys(kinds)
const byKind: Record<string, number> = {}

async function open(address: string): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: 'udp4', reuseAddr: true })
  await new Promise<void>((resolve) => s.bind(0, address, resolve))
  s.setBroadcast(true)
  return s
}
const socket = await open(job.sourceAddress ?? '0.0.0.0')
let sent = 0
for (let i = 0; i < job.count; i++) {
  const kind = names[i % names.length]!
  const pkt = kinds[kind]!()
  const target = job.targets[i % job.targets.length]!
  await new Promise<void>((resolve) => socket.send(pkt, target.port, target.to, () => resolve()))
  byKind[kind] = (byKind[kind] ?? 0) + 1
  sent++
  // Pace so the kernel's receive buffer does not drop most of them: every packet should be parsed.
  if (i % 50 === 49) await new Promise((r) => setTimeout(r, 2))
}
socket.close()
process.stdout.write(JSON.stringify({ sent, byKind }))
