/**
 * A static HTTP server for the e2e baseline, run as its own process inside a test namespace:
 *   node --import tsx test/helpers/e2e-static-http-server.ts <root> <host> <port>
 * Prints one JSON line when listening ({"listening":…}) and one per request
 * ({"method","url","ua","status","bytes","ms"}) so that tests can assert what iPXE fetched.
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createServer } from 'node:http'
import { join, normalize } from 'node:path'
import { performance } from 'node:perf_hooks'

const [root, host, port] = process.argv.slice(2)
if (!root || !host || !port) {
  console.error('usage: e2e-static-http-server.ts <root> <host> <port>')
  process.exit(2)
}

const server = createServer((req, res) => {
  const started = performance.now()
  const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
  const file = join(root, normalize(pathname)) // pathname starts with '/': normalize cannot climb above it
  const done = (status: number, bytes: number): void => {
    const line = { method: req.method, url: req.url, ua: req.headers['user-agent'] ?? '', status, bytes }
    console.log(JSON.stringify({ ...line, ms: Math.round(performance.now() - started) }))
  }
  stat(file)
    .then(
      (st) => {
        if (!st.isFile() || (req.method !== 'GET' && req.method !== 'HEAD')) throw new Error('not found')
        res.writeHead(200, { 'content-length': st.size, 'content-type': 'application/octet-stream' })
        if (req.method === 'HEAD') {
          res.end()
          return done(200, 0)
        }
        createReadStream(file)
          .pipe(res)
          .on('finish', () => done(200, st.size))
      },
      () => {
        res.writeHead(404, { 'content-length': 0 }).end()
        done(404, 0)
      },
    )
    .catch(() => {
      res.writeHead(404, { 'content-length': 0 }).end()
      done(404, 0)
    })
})
server.listen(Number(port), host, () => console.log(JSON.stringify({ listening: `http://${host}:${port}` })))
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => server.close(() => process.exit(0)))
