/**
 * Transfers on worker threads (core/tftp/transfer-pool.ts, `tftp.workers`): 200 real atftp clients
 * at once get byte-identical files (from the shared file cache and from a descriptor); a worker
 * that crashes mid-transfer takes only its own transfers with it, is replaced, and the service goes
 * on; close() with transfers in flight tells their clients and stops the workers; `workers: 0`
 * still runs transfers on the main thread. The crash is a real uncaught exception inside the
 * worker, triggered through a test-only message (no real bug can be summoned on demand).
 */
import t from 'tap'
import dgram, { type Socket } from 'node:dgram'
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { isBootpolicyError } from '../../../core/errors/bp-error.js'
import { resolveTftpConfig, type TftpConfig } from '../../../core/tftp/config-schema.js'
import { createTftpService, type TftpServiceDeps } from '../../../core/tftp/tftp-service.js'
import { captureLogs } from '../../helpers/log-capture.js'
import { atftpGet, errorCodeOf, makeTftpTree, opcodeOf, rrq, sha256 } from '../../helpers/tftp.js'

const tree = makeTftpTree()
t.teardown(() => tree.cleanup())
const small = randomBytes(70 * 1024)
writeFileSync(path.join(tree.root, '70kib'), small)
const bigSha = sha256(readFileSync(path.join(tree.root, 'big')))
const out = (name: string) => path.join(tree.base, `out-${name}-${Math.random().toString(36).slice(2)}`)
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

type Ended = Parameters<NonNullable<TftpServiceDeps['onTransfer']>>[0]

async function start(overrides: Partial<TftpConfig>) {
  const logs = captureLogs('debug')
  const ended: Ended[] = []
  const config = resolveTftpConfig({ enabled: true, address: '127.0.0.1', port: 0, root: tree.root, ...overrides })
  const service = createTftpService(config, { logger: logs.logger, onTransfer: (e) => ended.push(e) })
  await service.start()
  return { service, port: service.address().port, logs, ended }
}

async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await pause(20)
  }
}

/** A raw lock-step client that stops after DATA 1 until `resume()`; then ACKs to the end. */
async function pausedClient(serverPort: number, file: string) {
  const socket: Socket = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  const received: Buffer[] = []
  const errors: Buffer[] = []
  let from = 0
  let running = false
  let done: (ok: boolean) => void = () => undefined
  const finished = new Promise<boolean>((resolve) => {
    done = resolve
  })
  const ack = (n: number) => socket.send(Buffer.from([0, 4, n >> 8, n & 255]), from, '127.0.0.1')
  socket.on('error', () => undefined)
  socket.on('message', (msg, rinfo) => {
    if (opcodeOf(msg) === 5) {
      errors.push(msg)
      return done(false)
    }
    if (opcodeOf(msg) !== 3) return
    from = rinfo.port
    const n = msg.readUInt16BE(2)
    if (n !== received.length + 1) return
    received.push(Buffer.from(msg.subarray(4)))
    if (msg.length - 4 < 512) {
      ack(n)
      return done(true)
    }
    if (running) ack(n)
  })
  socket.send(rrq(file), serverPort, '127.0.0.1')
  return {
    received,
    errors,
    finished,
    resume() {
      running = true
      ack(received.length)
    },
    bytes: () => Buffer.concat(received),
    close: () => socket.close(),
  }
}

t.test('tftp.workers: auto, 0..64; anything else is a config error', async (t) => {
  t.equal(resolveTftpConfig({}).workers, 'auto')
  for (const workers of [0, 1, 64] as const) t.equal(resolveTftpConfig({ workers }).workers, workers)
  for (const workers of [-1, 65, 1.5, 'many']) {
    let err: unknown
    try {
      resolveTftpConfig({ workers } as never)
    } catch (e) {
      err = e
    }
    t.ok(isBootpolicyError(err, 'BP_ERR_CONFIG_INVALID'), `workers ${JSON.stringify(workers)} refused`)
  }
})

t.test('200 concurrent atftp lock-step downloads on 2 workers arrive byte-identical', async (t) => {
  // 'big' (1 MiB + 1) is over cacheMaxFileBytes: read from the descriptor; '70kib' from the cache.
  const { service, port, ended } = await start({ workers: 2, maxConnections: 400, cacheMaxFileBytes: 512 * 1024, timeoutMs: 2000, retries: 10 })
  t.teardown(() => service.close())
  t.equal(service.stats().workers, 2)
  // serve drops privileges right after start(): a worker loading later, as the dropped user, could
  // not read an installation only root may enter (CI runs from such a directory).
  t.equal(service.stats().workersReady, 2, 'every worker has loaded its code when start() returns')
  const jobs = Array.from({ length: 200 }, (_, i) => {
    const name = i % 2 ? 'big' : '70kib'
    const file = out(name)
    return atftpGet(port, name, file, ['blksize 1428', 'tsize']).then((r) => ({ r, name, file }))
  })
  const results = await Promise.all(jobs)
  let identical = 0
  for (const { r, name, file } of results) {
    if (r.code !== 0) t.fail(`atftp ${name} exit ${r.code}: ${r.stderr.trim()}`)
    else if (sha256(readFileSync(file)) === (name === 'big' ? bigSha : sha256(small))) identical++
  }
  t.equal(identical, 200, 'every file byte-identical')
  await until('the server to count every end', () => ended.length === 200)
  t.equal(ended.filter((e) => e.outcome === 'complete').length, 200, 'the timeline heard 200 completions')
  t.equal(service.stats().active, 0)
})

t.test('a worker crashing mid-transfer: its client is cut off, the worker is replaced, others go on', async (t) => {
  const { service, port, logs, ended } = await start({ workers: 2, timeoutMs: 10_000, retries: 3 })
  t.teardown(() => service.close())
  // Two transfers, one on each worker (fewest in flight first), both paused after DATA 1.
  const a = await pausedClient(port, 'big')
  await until('DATA 1 for the first client', () => a.received.length === 1)
  const b = await pausedClient(port, 'big')
  await until('DATA 1 for the second client', () => b.received.length === 1)
  t.equal(service.stats().active, 2)
  service.crashWorkerForTest()
  await until('one transfer to end with its worker', () => ended.length === 1)
  t.equal(ended[0]?.outcome, 'error', 'the lost transfer is reported as an error')
  t.equal(service.stats().active, 1, 'only that one slot was freed')
  const exited = logs.records().filter((r) => r.msg === 'tftp transfer worker exited')
  t.equal(exited.length, 1, 'the crash is logged')
  t.equal(exited[0]?.level, 50)
  t.equal(exited[0]?.lost, 1)
  await until('the worker to be replaced', () => service.stats().workers === 2)
  // Both clients carry on; only the survivor's transfer still exists.
  const outcomes: (boolean | 'silent')[] = ['silent', 'silent']
  for (const [i, c] of [a, b].entries()) void c.finished.then((ok) => (outcomes[i] = ok))
  const resumed = Date.now()
  a.resume()
  b.resume()
  // The survivor's 2049 lock-step blocks can take well over 3 s on a loaded host: up to 60 s.
  await until('a transfer to complete', () => outcomes.includes(true), 60_000).catch(() => undefined)
  // The other client hears nothing more (it would time out), for at least the 3 s it was given.
  await pause(Math.max(0, resumed + 3000 - Date.now()))
  const survivors = [a, b].filter((_, i) => outcomes[i] === true)
  t.equal(survivors.length, 1, `exactly one transfer completed (${outcomes.join(', ')})`)
  t.equal(sha256(survivors[0]?.bytes() ?? Buffer.alloc(0)), bigSha, 'the survivor got the whole file')
  t.not(outcomes.indexOf('silent'), -1, "the crashed transfer's client hears nothing more (it times out)")
  for (const c of [a, b]) c.close()
  // The replacement serves new transfers.
  for (let i = 0; i < 3; i++) {
    const file = out('after-crash')
    const r = await atftpGet(port, 'big', file, ['blksize 1428', 'tsize'])
    t.equal(r.code, 0, `download ${i + 1} after the crash (${r.stderr.trim()})`)
    t.equal(sha256(readFileSync(file)), bigSha)
  }
})

t.test('close() with transfers in flight on workers: every client gets ERROR 0, workers stop', async (t) => {
  const { service, port } = await start({ workers: 2, timeoutMs: 5000 })
  const clients = [await pausedClient(port, 'big'), await pausedClient(port, '70kib'), await pausedClient(port, 'big')]
  await until('DATA 1 for every client', () => clients.every((c) => c.received.length === 1))
  t.equal(service.stats().active, 3)
  await service.close()
  t.same(service.stats(), { active: 0, started: 3, refused: 0, workers: 0, workersReady: 0 })
  // Up to 30 s (not 3) for the ERRORs to be read: a starved host is slow to get to them.
  await until('ERROR for every client', () => clients.every((c) => c.errors.length > 0), 30_000).catch(() => undefined)
  for (const [i, c] of clients.entries()) {
    t.equal(errorCodeOf(c.errors[0]), 0, `client ${i + 1} was told`)
    t.match(c.errors[0]?.subarray(4).toString('latin1'), /shutting down/)
    c.close()
  }
})

t.test('workers: 0 runs transfers on the main thread, byte-identical', async (t) => {
  const { service, port, ended } = await start({ workers: 0, cacheMaxFileBytes: 512 * 1024 })
  t.teardown(() => service.close())
  t.equal(service.stats().workers, 0)
  for (const [name, sha] of [
    ['big', bigSha],
    ['70kib', sha256(small)],
  ] as const) {
    const file = out(name)
    const r = await atftpGet(port, name, file, ['blksize 1428', 'tsize'])
    t.equal(r.code, 0, `atftp ${name} (${r.stderr.trim()})`)
    t.equal(sha256(readFileSync(file)), sha, name)
  }
  await until('both ends', () => ended.length === 2)
  t.same(
    ended.map((e) => e.outcome),
    ['complete', 'complete'],
  )
})
