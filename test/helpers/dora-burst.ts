/**
 * A burst of DHCP clients, run inside a namespace: each of `clients` MACs does one DORA
 * (DISCOVER → OFFER → REQUEST → ACK or NAK), `window` of them at once, no retries, until all are
 * done or `seconds` have passed. What each client got comes back, so a test can check every ACK
 * against the lease file (tests of group commit and durability; the bench uses dora-client.ts).
 * Job on stdin: {"clients":500,"window":64,"seconds":20,"stageMs":2000,"macPrefix":"02:cc","sourceAddress":"10.0.0.9"}
 * SIGTERM stops it early. Prints {"results":[{"mac","result":"ack"|"nak"|"no-offer"|"no-ack","ip"?}]}.
 */
import type dgram from 'node:dgram'
import { decode, encode } from '../../core/dhcp/packet-codec.js'
import { MessageType, Opt } from '../../core/dhcp/options.js'
import { clientPacket, openClientSocket } from './dhcp-packets.js'

interface Job {
  clients: number
  window: number
  seconds: number
  stageMs: number
  macPrefix: string
  sourceAddress: string
}
type Result = { mac: string; result: 'ack' | 'nak' | 'no-offer' | 'no-ack'; ip?: string }

let input = ''
for await (const chunk of process.stdin) input += String(chunk)
const job = JSON.parse(input) as Job

const open = (address: string): Promise<dgram.Socket> => openClientSocket(address)
const wildcard = await open('0.0.0.0')
const sender = await open(job.sourceAddress)
const send = (bytes: Buffer): void => sender.send(bytes, 67, '255.255.255.255')
const macOf = (i: number): string => `${job.macPrefix}:${[(i >> 16) & 255, (i >> 8) & 255, i & 255, 1].map((b) => b.toString(16).padStart(2, '0')).join(':')}`

const results: Result[] = []
const pending = new Map<number, { mac: string; stage: 'offer' | 'ack'; ip?: string; timer: NodeJS.Timeout }>()
let next = 0
let xid = (Math.random() * 0x7fffffff) >>> 0
const deadline = Date.now() + job.seconds * 1000
let finish: () => void = () => undefined
const finished = new Promise<void>((resolve) => {
  finish = resolve
})

const settle = (id: number, result: Result): void => {
  const p = pending.get(id)
  if (!p) return
  clearTimeout(p.timer)
  pending.delete(id)
  results.push(result)
  launch()
}
const arm = (id: number, mac: string, stage: 'offer' | 'ack', ip?: string): void => {
  const timer = setTimeout(() => settle(id, { mac, result: stage === 'offer' ? 'no-offer' : 'no-ack', ...(ip ? { ip } : {}) }), job.stageMs)
  pending.set(id, { mac, stage, timer, ...(ip ? { ip } : {}) })
}
function launch(): void {
  while (pending.size < job.window && next < job.clients && Date.now() < deadline) {
    const mac = macOf(next++)
    const id = xid++ >>> 0
    arm(id, mac, 'offer')
    send(encode(clientPacket({ mac, xid: id })))
  }
  if (pending.size === 0) finish()
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
    arm(p.xid, entry.mac, 'ack', p.yiaddr)
    const options: Array<[number, Buffer]> = [
      [Opt.SERVER_ID, p.options.get(Opt.SERVER_ID)!],
      [Opt.REQUESTED_IP, Buffer.from(p.yiaddr.split('.').map(Number))],
    ]
    send(encode(clientPacket({ mac: entry.mac, xid: p.xid, type: MessageType.REQUEST, options })))
  } else if (entry.stage === 'ack' && p.messageType === MessageType.ACK) {
    settle(p.xid, { mac: entry.mac, result: 'ack', ip: p.yiaddr })
  } else if (entry.stage === 'ack' && p.messageType === MessageType.NAK) {
    settle(p.xid, { mac: entry.mac, result: 'nak' })
  }
}
wildcard.on('message', onMessage)
sender.on('message', onMessage)
// SIGTERM ends the burst early and still reports what each finished client got (kill tests).
process.once('SIGTERM', () => finish())
launch()
await finished
wildcard.close()
sender.close()
process.stdout.write(JSON.stringify({ results }))
