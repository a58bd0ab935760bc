/**
 * A fast exact-count load generator for the memory runs (wrk stops on time, not on a count):
 * `connections` keep-alive sockets, one request in flight on each, machines 0..count-1 of
 * boot-clients.ts in order. Runs in its own process (bench/lib/raw-load-main.ts) so that it does
 * not share a thread with anything it measures.
 */
import { connect } from 'node:net'
import { bootPath } from './boot-clients.js'

export async function rawLoad(port: number, count: number, connections: number, offset = 0): Promise<{ requests: number; errors: number }> {
  let next = 0
  let done = 0
  let errors = 0
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1')
      let buf = ''
      const send = () => {
        if (next >= count) {
          socket.end()
          resolve()
          return
        }
        socket.write(`GET ${bootPath(offset + next++)} HTTP/1.1\r\nHost: bench\r\nUser-Agent: iPXE/1.0.0+git-20190125.36a4c85-5.1\r\n\r\n`)
      }
      socket.setEncoding('latin1')
      socket.on('connect', send)
      socket.on('error', reject)
      socket.on('data', (chunk: string) => {
        buf += chunk
        for (;;) {
          const end = buf.indexOf('\r\n\r\n')
          if (end === -1) return
          const length = Number(/content-length: *(\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0)
          if (buf.length < end + 4 + length) return
          if (!buf.startsWith('HTTP/1.1 200')) errors++
          buf = buf.slice(end + 4 + length)
          done++
          send()
        }
      })
    })
  await Promise.all(Array.from({ length: connections }, one))
  return { requests: done, errors }
}
