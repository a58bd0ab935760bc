/**
 * Admission control on /files (core/files/admission.ts) over real sockets: clients that hold their
 * download open (they stop reading, so the 32 MiB body cannot drain into socket buffers) occupy
 * the slots; a parallel burst beyond the limit gets 503 + Retry-After with jitter, never a 200 past
 * the limit; aborted and finished downloads free their slot; small files and HEAD are never
 * refused; a real client that honours Retry-After (curl --retry) gets the file in the end.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { build } from '../../../core/http/build-app.js'
import { requireCommand } from '../../helpers/e2e-require.js'
import { tempPolicies } from '../../helpers/policy-dir.js'
import { waitUntil } from '../../helpers/wait-until.js'

const LIMIT = 3
const big = randomBytes(32 * 1024 * 1024)
const dir = tempPolicies()
t.teardown(() => dir.remove())
const files = join(dir.dir, 'files')
mkdirSync(files)
writeFileSync(join(files, 'initrd.img'), big)
writeFileSync(join(files, 'boot.ipxe'), '#!ipxe\necho small\n')
const bp = await build(
  dir.config({
    files: { dir: files, admission: { maxConcurrent: LIMIT, minBytes: 1024 * 1024, retrySeconds: 1, jitterSeconds: 2 } },
    http: { maxConnectionsPerAddress: 200 },
  }),
)
t.teardown(() => bp.close())
await bp.app.listen({ host: '127.0.0.1', port: 0 })
const port = (bp.app.server.address() as net.AddressInfo).port

// A large body admitted (a 200 to a GET of initrd.img) holds a slot until its response closes; the
// same 'close' then files its files:download event, after the release. Equal counts: all free.
const large = { admitted: 0, closed: 0 }
bp.runtime.timeline.subscribe((_id, e) => {
  if (e.source === 'files' && e.type === 'download' && e.fields.file === 'initrd.img') large.closed++
})

interface Held {
  socket: net.Socket
  status: number
  head: string
  /** Body bytes that arrived with the headers. */
  early: number
}

/** Sends one GET and resolves with the status line and headers; the socket then stops reading. */
function request(path: string, method = 'GET'): Promise<Held> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let text = ''
    socket.on('error', () => undefined)
    socket.on('data', function onData(chunk: Buffer) {
      text += chunk.toString('latin1')
      const end = text.indexOf('\r\n\r\n')
      if (end < 0) return
      socket.off('data', onData)
      socket.pause()
      const status = Number(text.slice(9, 12))
      if (status === 200 && method === 'GET' && path === '/files/initrd.img') large.admitted++
      resolve({ socket, status, head: text.slice(0, end), early: text.length - end - 4 })
    })
    socket.once('close', () => reject(new Error(`closed before headers: ${text.slice(0, 80)}`)))
    socket.write(`${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n`)
  })
}

const header = (h: Held, name: string) => new RegExp(`^${name}: (.*)$`, 'im').exec(h.head)?.[1]
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.test('a parallel burst of 40 over a limit of 3: exactly 3 bodies start, the rest get 503 + Retry-After with jitter', async (t) => {
  const burst = await Promise.all(Array.from({ length: 40 }, () => request('/files/initrd.img')))
  const ok = burst.filter((h) => h.status === 200)
  const busy = burst.filter((h) => h.status === 503)
  t.equal(ok.length, LIMIT, 'never more than the limit admitted')
  t.equal(busy.length, 40 - LIMIT, 'every other client told to come back')
  const waits = new Set(busy.map((h) => Number(header(h, 'retry-after'))))
  for (const w of waits) t.ok(Number.isInteger(w) && w >= 1 && w <= 3, `Retry-After ${w} within retrySeconds..retrySeconds+jitterSeconds`)
  t.ok(waits.size > 1, `jitter: ${[...waits].join(', ')}`)
  // Small files and HEAD are never refused while the slots are full.
  const small = await request('/files/boot.ipxe')
  t.equal(small.status, 200, 'a small file is served while full')
  const head = await request('/files/initrd.img', 'HEAD')
  t.equal(head.status, 200, 'HEAD is served while full')
  t.equal(header(head, 'content-length'), String(big.length))
  for (const h of [...busy, small, head]) h.socket.destroy()

  // Aborting the held downloads frees their slots: a new client is admitted.
  for (const h of ok) h.socket.destroy()
  let next: Held | undefined
  for (let i = 0; i < 40; i++) {
    next = await request('/files/initrd.img')
    if (next.status === 200) break
    next.socket.destroy()
    await pause(50)
  }
  t.equal(next?.status, 200, 'aborted downloads freed their slots')
  next?.socket.destroy()
})

t.test('finished downloads free their slot, and a client honouring Retry-After gets the whole file', async (t) => {
  const curl = requireCommand('curl', 'curl')
  // The first test's clients went away; their slots are free once the server saw each close (a
  // fixed 300 ms was too short on a loaded host).
  await waitUntil(() => large.closed >= large.admitted, 30_000)
  t.equal(large.closed, large.admitted, `every admitted download closed (${large.closed} of ${large.admitted})`)
  const held = await Promise.all(Array.from({ length: LIMIT }, () => request('/files/initrd.img')))
  t.same(
    held.map((h) => h.status),
    [200, 200, 200],
  )
  const out = join(dir.dir, 'out.img')
  const refused = (): number => Number(/^bootpolicy_http_requests_total\{route="\/files\/\*",code="503"\} (\d+)$/m.exec(bp.metrics.requests.render())?.[1] ?? 0)
  const refusedBefore = refused()
  // curl --retry treats 503 as transient and waits Retry-After seconds between attempts.
  const fetched = new Promise<{ code: number | null; stderr: string }>((resolve) => {
    execFile(curl, ['-sS', '-f', '--retry', '10', '-o', out, `http://127.0.0.1:${port}/files/initrd.img`], { timeout: 60_000 }, (err, _stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
    )
  })
  // Its first attempt must meet the full slots, or it proves no retry (a fixed 500 ms may not
  // cover it on a loaded host).
  await waitUntil(() => refused() !== refusedBefore, 30_000)
  t.ok(refused() > refusedBefore, 'curl was refused while the slots were held')
  // Drain the held downloads to the end (a finished body frees its slot like an aborted one).
  await Promise.all(
    held.map(
      (h) =>
        new Promise<void>((resolve) => {
          let got = h.early
          h.socket.on('data', (c: Buffer) => {
            got += c.length
            if (got >= big.length) resolve()
          })
          h.socket.resume()
        }),
    ),
  )
  const r = await fetched
  t.equal(r.code, 0, r.stderr)
  t.equal(createHash('sha256').update(readFileSync(out)).digest('hex'), createHash('sha256').update(big).digest('hex'), 'byte-identical after retrying')
  for (const h of held) h.socket.destroy()
})
