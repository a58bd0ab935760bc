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
  /** The host's own address: broadcasts are sent from a socket bound to it. */
  sourceAddress?: string
  listenMs: number
  expect?: number
  gapMs?: number
  send: Array<{ hex: string; to: string; port: number }>
}

let input = ''
for await (const chunk of process.stdin) input += String(chunk)
const job = JSON.parse(input) as Job

const replies: Array<{ hex: string; from: string; port: number }> = []
let done: () => void = () => undefined
const finished = new Promise<void>((resolve) => {
  done = resolve
})
async function open(address: string): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true })
  socket.on('message', (buf, rinfo) => {
    replies.push({ hex: buf.toString('hex'), from: rinfo.address, port: rinfo.port })
    if (job.expect !== undefined && replies.length >= job.expect) done()
  })
  await new Promise<void>((resolve) => socket.bind(job.bindPort, address, resolve))
  socket.setBroadcast(true)
  return socket
}
// The wildcard socket hears broadcasts; sending from one bound to the host's own address lets
// Linux route 255.255.255.255 out of eth0 without a default route (see core/dhcp/udp-transport.ts).
const wildcard = await open('0.0.0.0')
const socket = job.sourceAddress ? await open(job.sourceAddress) : wildcard
for (const s of job.send) {
  await new Promise<void>((resolve, reject) => socket.send(Buffer.from(s.hex, 'hex'), s.port, s.to, (err) => (err ? reject(err) : resolve())))
  if (job.gapMs) await new Promise((r) => setTimeout(r, job.gapMs))
}
const timer = setTimeout(done, job.listenMs)
await finished
clearTimeout(timer)
wildcard.close()
if (socket !== wildcard) socket.close()
process.stdout.write(JSON.stringify({ replies }))
