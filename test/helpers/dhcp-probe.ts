/**
 * A scripted DHCP client for namespaces: reads a JSON job on stdin, sends raw datagrams from a
 * UDP socket with broadcast enabled, collects every datagram that comes back for `listenMs`,
 * prints {"replies":[{"hex","from","port"}]} on stdout. Test-side wrapper: dhcp-clients.ts probe().
 *
 * Job: {"bindPort":68, "listenMs":1500, "send":[{"hex":"…","to":"255.255.255.255","port":67}],
 *       "expect": 2}   (optional: stop early once this many replies arrived)
 */
import dgram from 'node:dgram'

interface Job {
  bindPort: number
  bindAddress?: string
  listenMs: number
  expect?: number
  gapMs?: number
  send: Array<{ hex: string; to: string; port: number }>
}

let input = ''
for await (const chunk of process.stdin) input += String(chunk)
const job = JSON.parse(input) as Job

const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true })
const replies: Array<{ hex: string; from: string; port: number }> = []
let done: () => void = () => undefined
const finished = new Promise<void>((resolve) => { done = resolve })
socket.on('message', (buf, rinfo) => {
  replies.push({ hex: buf.toString('hex'), from: rinfo.address, port: rinfo.port })
  if (job.expect !== undefined && replies.length >= job.expect) done()
})
await new Promise<void>((resolve) => socket.bind(job.bindPort, job.bindAddress ?? '0.0.0.0', resolve))
socket.setBroadcast(true)
for (const s of job.send) {
  await new Promise<void>((resolve, reject) => socket.send(Buffer.from(s.hex, 'hex'), s.port, s.to, (err) => (err ? reject(err) : resolve())))
  if (job.gapMs) await new Promise((r) => setTimeout(r, job.gapMs))
}
const timer = setTimeout(done, job.listenMs)
await finished
clearTimeout(timer)
socket.close()
process.stdout.write(JSON.stringify({ replies }))
