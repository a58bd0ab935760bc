/**
 * A DISCOVER flood, run inside a namespace: sends pre-built DISCOVERs from `macs` random MACs as
 * fast as the socket takes them, for `seconds`, and prints {"sent":N}. It is the attacker (or the
 * rack of machines powering on at once) that the receive queue must survive.
 * With `giaddr` the DISCOVERs claim to come through a relay at that address, so the OFFERs go back
 * unicast to it instead of broadcast to every host on the LAN.
 * Job on stdin: {"seconds":4,"macs":5000,"sourceAddress":"10.0.0.66","giaddr":"10.0.0.66"}
 */
import dgram from 'node:dgram'
import { randomBytes } from 'node:crypto'
import { encode } from '../../core/dhcp/packet-codec.js'
import { clientPacket } from './dhcp-packets.js'

let input = ''
for await (const chunk of process.stdin) input += String(chunk)
const job = JSON.parse(input) as { seconds: number; macs: number; sourceAddress: string; giaddr?: string; pps?: number }

const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true })
await new Promise<void>((resolve) => socket.bind(0, job.sourceAddress, resolve))
socket.setBroadcast(true)
socket.setSendBufferSize(4 << 20)
const packets = Array.from({ length: job.macs }, () => {
  const mac = ['02', ...Array.from(randomBytes(5), (b) => b.toString(16).padStart(2, '0'))].join(':')
  return encode(clientPacket({ mac, ...(job.giaddr ? { giaddr: job.giaddr } : {}) }))
})
const deadline = Date.now() + job.seconds * 1000
let sent = 0
let queued = 0
// pps: bursts every 10 ms of pps/100 packets (each burst alone overfills a small queue); else flat out.
const burst = job.pps ? Math.max(1, Math.round(job.pps / 100)) : 0
while (Date.now() < deadline) {
  if (burst) {
    for (let i = 0; i < burst; i++) socket.send(packets[sent++ % packets.length]!, 67, '255.255.255.255')
    await new Promise((r) => setTimeout(r, 10))
    continue
  }
  // Keep up to 512 sends queued in libuv: as fast as the kernel takes them, without unbounded memory.
  while (queued < 512) {
    queued++
    socket.send(packets[sent++ % packets.length]!, 67, '255.255.255.255', () => queued--)
  }
  await new Promise((r) => setImmediate(r))
}
while (queued > 0) await new Promise((r) => setImmediate(r))
socket.close()
process.stdout.write(JSON.stringify({ sent }))
