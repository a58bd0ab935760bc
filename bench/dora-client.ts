/**
 * Scripted DORA client for bench/dhcp-dora.ts, run inside a namespace. Keeps `window`
 * transactions in flight, each DISCOVER → OFFER → REQUEST → ACK with its own xid and one of
 * `macs` client MACs (so leases are reused, as on a real LAN), for `seconds` after a warm-up.
 * Job on stdin: {"seconds":2,"warmup":0.5,"window":16,"macs":1000,"sourceAddress":"10.55.0.9","server":"10.55.0.1"}
 * Prints {"completed":N,"seconds":S,"perSecond":R,"timeouts":T}.
 */
import type dgram from 'node:dgram'
import { decode, encode } from '../core/dhcp/packet-codec.js'
import { MessageType, Opt } from '../core/dhcp/options.js'
import { clientPacket, openClientSocket } from '../test/helpers/dhcp-packets.js'

interface Job {
  seconds: number
  warmup: number
  window: number
  macs: number
  sourceAddress: string
}
let input = ''
for await (const chunk of process.stdin) input += String(chunk)
const job = JSON.parse(input) as Job

const open = (address: string): Promise<dgram.Socket> => openClientSocket(address)
const wildcard = await open('0.0.0.0')
const sender = await open(job.sourceAddress)

type Pending = { mac: string; stage: 'offer' | 'ack'; timer: NodeJS.Timeout }
const pending = new Map<number, Pending>()
let nextXid = (Math.random() * 0x7fffffff) >>> 0
let nextMac = 0
let measuring = false
let stopped = false
let completed = 0
let timeouts = 0

const macOf = (i: number): string => `02:bb:${[(i >> 16) & 255, (i >> 8) & 255, i & 255, 1].map((b) => b.toString(16).padStart(2, '0')).join(':')}`
const send = (bytes: Buffer): void => sender.send(bytes, 67, '255.255.255.255')
const arm = (xid: number, p: Omit<Pending, 'timer'>): void => {
  const timer = setTimeout(() => {
    pending.delete(xid)
    if (measuring) timeouts++
    start()
  }, 1000)
  pending.set(xid, { ...p, timer })
}
function start(): void {
  if (stopped) return
  const xid = nextXid++ >>> 0
  const mac = macOf(nextMac++ % job.macs)
  arm(xid, { mac, stage: 'offer' })
  send(encode(clientPacket({ mac, xid })))
}
const onMessage = (buf: Buffer): void => {
  let p
  try {
    p = decode(buf)
  } catch {
    return
  }
  const entry = pending.get(p.xid)
  if (!entry) return
  if (entry.stage === 'offer' && p.messageType === MessageType.OFFER) {
    clearTimeout(entry.timer)
    const serverId = p.options.get(Opt.SERVER_ID)!
    arm(p.xid, { mac: entry.mac, stage: 'ack' })
    send(
      encode(
        clientPacket({
          mac: entry.mac,
          xid: p.xid,
          type: MessageType.REQUEST,
          options: [
            [Opt.SERVER_ID, serverId],
            [Opt.REQUESTED_IP, Buffer.from(p.yiaddr.split('.').map(Number))],
          ],
        }),
      ),
    )
  } else if (entry.stage === 'ack' && (p.messageType === MessageType.ACK || p.messageType === MessageType.NAK)) {
    clearTimeout(entry.timer)
    pending.delete(p.xid)
    if (measuring && p.messageType === MessageType.ACK) completed++
    start()
  }
}
wildcard.on('message', onMessage)
sender.on('message', onMessage)

for (let i = 0; i < job.window; i++) start()
await new Promise((r) => setTimeout(r, job.warmup * 1000))
measuring = true
const t0 = process.hrtime.bigint()
await new Promise((r) => setTimeout(r, job.seconds * 1000))
measuring = false
const seconds = Number(process.hrtime.bigint() - t0) / 1e9
stopped = true
for (const p of pending.values()) clearTimeout(p.timer)
wildcard.close()
sender.close()
process.stdout.write(JSON.stringify({ completed, seconds, perSecond: completed / seconds, timeouts }))
