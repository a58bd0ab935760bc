/**
 * Hazard: a symlink swapped in after the path check. A child process renames a regular file and a
 * symlink to a secret outside the root over the same name (and a directory and a symlinked
 * directory over another) as fast as it can, while thousands of real HTTP requests fetch both names.
 */
import t from 'tap'
import { mkdirSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs'
import { request, Agent } from 'node:http'
import { join } from 'node:path'
import { build } from '../../../core/http/build-app.js'
import { tempPolicies } from '../../helpers/policy-dir.js'
import { startSymlinkSwapper } from '../../helpers/symlink-swapper.js'

const SECRET = 'SECRET-outside-the-root'
const LEGIT = 'legit boot file contents'

/** One GET; a broken or stalled response (5 s) counts as status -1 with what arrived so far. */
function get(port: number, agent: Agent, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    const req = request({ host: '127.0.0.1', port, path: url, agent, timeout: 5000 }, (res) => {
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }))
      res.on('error', () => resolve({ status: -1, body: Buffer.concat(chunks).toString() }))
    })
    req.on('timeout', () => req.destroy(new Error('stalled')))
    req.on('error', () => resolve({ status: -1, body: Buffer.concat(chunks).toString() }))
    req.end()
  })
}

t.test('hazard: /files follows a symlink swapped in after the check', async (t) => {
  const dir = tempPolicies()
  t.teardown(() => dir.remove())
  const root = join(dir.dir, 'files')
  const outside = join(dir.dir, 'outside')
  mkdirSync(root)
  mkdirSync(outside)
  writeFileSync(join(outside, 'secret'), SECRET)
  writeFileSync(join(outside, 'file'), SECRET)
  writeFileSync(join(root, 'boot.bin'), LEGIT)
  const bp = await build(dir.config({ files: { dir: root } }))
  t.teardown(() => bp.close())
  await bp.app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = bp.app.server.address() as { port: number }

  startSymlinkSwapper(t, root, outside, LEGIT)
  const agent = new Agent({ keepAlive: true, maxSockets: 16 })
  t.teardown(() => agent.destroy())

  const total = 4000
  const statuses = new Map<number, number>()
  let leaked = 0
  let served = 0
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < total) {
      const url = next++ % 2 ? '/files/boot.bin' : '/files/dir/file'
      const res = await get(port, agent, url)
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
      if (res.body.includes(SECRET)) leaked++
      if (res.status === 200 && res.body === LEGIT) served++
    }
  }
  await Promise.all(Array.from({ length: 16 }, worker))
  t.comment(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}`)
  t.equal(leaked, 0, `the secret outside the root was never served (${total} racing requests)`)
  t.ok(served > 0, 'the legitimate file was served while the swap raced')
  t.ok(
    [...statuses.keys()].every((s) => [200, 403, 404].includes(s)),
    'every other answer is a clean refusal',
  )
})

t.test('/files closes its descriptor on every path: body, HEAD, 416, empty file, client gone mid-body', async (t) => {
  const dir = tempPolicies()
  t.teardown(() => dir.remove())
  const root = join(dir.dir, 'files')
  mkdirSync(root)
  writeFileSync(join(root, 'big'), Buffer.alloc(8 * 1024 * 1024, 7))
  writeFileSync(join(root, 'empty'), '')
  const bp = await build(dir.config({ files: { dir: root } }))
  t.teardown(() => bp.close())
  await bp.app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = bp.app.server.address() as { port: number }
  // Only descriptors of the served files count: sockets, pipes and worker threads' files come and go.
  const fds = (): number =>
    readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith(root)
      } catch {
        return false // closed while listing
      }
    }).length
  const agent = new Agent({ keepAlive: false })
  t.teardown(() => agent.destroy())
  const before = fds()
  // A FileHandle left open is closed by the garbage collector with this warning: none may appear.
  const gcClosed: string[] = []
  const onWarning = (w: Error): void => {
    if (/on garbage collection/.test(w.message)) gcClosed.push(w.message)
  }
  process.on('warning', onWarning)
  t.teardown(() => process.off('warning', onWarning))

  const once = (method: string, path: string, headers: Record<string, string> = {}, abort = false): Promise<number> =>
    new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port, path, method, headers, agent }, (res) => {
        if (abort) {
          res.once('data', () => {
            req.destroy()
            resolve(res.statusCode ?? 0)
          })
        } else {
          res.resume()
          res.on('end', () => resolve(res.statusCode ?? 0))
        }
      })
      req.on('error', () => resolve(-1))
      req.end()
    })
  const counts: Record<string, number[]> = { get: [], head: [], range416: [], empty: [], aborted: [] }
  for (let i = 0; i < 50; i++) {
    counts.get!.push(await once('GET', '/files/big', { range: 'bytes=0-99' }))
    counts.head!.push(await once('HEAD', '/files/big'))
    counts.range416!.push(await once('GET', '/files/big', { range: 'bytes=99999999-' }))
    counts.empty!.push(await once('GET', '/files/empty'))
    counts.aborted!.push(await once('GET', '/files/big', {}, true))
  }
  t.same([...new Set(counts.get)], [206])
  t.same([...new Set(counts.head)], [200])
  t.same([...new Set(counts.range416)], [416])
  t.same([...new Set(counts.empty)], [200])
  t.same([...new Set(counts.aborted)], [200])
  // Sockets and streams close asynchronously: give them a moment, then compare.
  const deadline = Date.now() + 5000
  while (fds() > before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  t.equal(fds(), before, `descriptors of served files back to ${before} after 250 requests`)
  globalThis.gc?.()
  await new Promise((r) => setTimeout(r, 200))
  t.same(gcClosed, [], 'no descriptor was left for the garbage collector to close')
})
