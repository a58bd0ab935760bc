/**
 * Make a TCP service on the host's 127.0.0.1:port reachable on 127.0.0.1:port inside a TestNet,
 * for servers started by host-side helpers (the KDC of kdc.ts, the slapd of slapd.ts) that a
 * bootpolicy inside the namespace must reach. Network namespaces share the file system, so the two
 * halves meet at a Unix socket in the net's directory: the test process accepts on the socket and
 * connects to the host port; a small Node process inside the namespace accepts TCP and connects to
 * the socket. TCP only (kdc.ts sets `udp_preference_limit = 1`, so Kerberos uses TCP).
 */
import { createServer, connect, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import type { TestNet } from './e2e-net.js'

const INNER = `
const net = require('node:net')
const [sock, port] = process.argv.slice(1)
net.createServer((c) => {
  const u = net.connect(sock)
  c.pipe(u); u.pipe(c)
  c.on('error', () => u.destroy()); u.on('error', () => c.destroy())
}).listen(Number(port), '127.0.0.1', () => console.log('forwarding ' + port))
`

function splice(a: Socket, b: Socket): void {
  a.pipe(b)
  b.pipe(a)
  a.on('error', () => b.destroy())
  b.on('error', () => a.destroy())
}

/** Forward 127.0.0.1:port of the host into the net; the returned function stops both halves. */
export async function forwardLoopbackIntoNet(net: TestNet, port: number): Promise<() => Promise<void>> {
  const sock = join(net.dir, `fwd-${port}.sock`)
  const open = new Set<Socket>()
  const outer: Server = createServer((c) => {
    const t = connect(port, '127.0.0.1')
    for (const s of [c, t]) {
      open.add(s)
      s.once('close', () => open.delete(s))
    }
    splice(c, t)
  })
  await new Promise<void>((resolve, reject) => outer.once('error', reject).listen(sock, resolve))
  const inner = net.spawn(`fwd-${port}`, process.execPath, ['-e', INNER, sock, String(port)])
  await inner.waitForOutput(new RegExp(`forwarding ${port}`), 10_000)
  return async () => {
    await inner.stop()
    for (const s of open) s.destroy()
    await new Promise<void>((resolve) => outer.close(() => resolve()))
  }
}
