/**
 * Hazard: connection exhaustion. The real CLI serves with the default http limits under
 * `ulimit -n 1024` (the usual default for a service); 1,100 half-sent requests from one address,
 * plus 300 more spread over ten other 127.0.0.x addresses, must not make /healthz or /boot slow
 * or failing for another client, and the half-sent ones must be closed after headersTimeoutMs.
 * Needs `npm run build` (dist/) and /bin/sh.
 */
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { request } from 'node:http'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../../core/config/load-config.js'
import { tempPolicies } from '../../helpers/policy-dir.js'
import { guardProcessGroup } from '../../helpers/group-guardian.js'

const CLIENT = '127.0.0.250'

function startServe(config: string): Promise<{ child: ChildProcess; port: number }> {
  if (!existsSync('/bin/sh')) throw new Error('connection-limits test needs /bin/sh (for ulimit)')
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', 'ulimit -n 1024 && exec "$0" "$@"', process.execPath, join(PACKAGE_ROOT, 'bin/bootpolicy.js'), 'serve', '--config', config], {
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
    })
    guardProcessGroup(child.pid)
    let out = ''
    child.stdout!.on('data', (c: Buffer) => {
      out += c
      const m = /serving http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)
      if (m) resolve({ child, port: Number(m[1]) })
    })
    child.on('exit', (code) => reject(new Error(`serve exited early (${code}): ${out}`)))
  })
}

/** One request on a fresh connection from CLIENT; resolves with its latency, or -1 if it failed (3 s). */
function timed(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint()
    const req = request({ host: '127.0.0.1', port, path, localAddress: CLIENT, agent: false, timeout: 3000 }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode === 200 ? Number(process.hrtime.bigint() - started) / 1e6 : -1))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve(-1))
    req.end()
  })
}

async function sample(port: number, rounds: number): Promise<{ p99: number; failed: number }> {
  const times: number[] = []
  let failed = 0
  for (let i = 0; i < rounds; i++) {
    for (const path of ['/healthz', `/boot?mac=52:54:00:00:00:${(i % 256).toString(16).padStart(2, '0')}`]) {
      const ms = await timed(port, path)
      if (ms < 0) failed++
      else times.push(ms)
    }
  }
  times.sort((a, b) => a - b)
  return { p99: times[Math.min(times.length - 1, Math.floor(times.length * 0.99))] ?? Infinity, failed }
}

/** A connection that sends half a request line and then nothing. */
function partial(port: number, localAddress: string, closed: number[]): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress })
    socket.on('error', () => undefined)
    socket.resume() // read the server's 408 and its FIN, so that 'close' fires
    socket.on('close', () => closed.push(Date.now()))
    socket.on('connect', () => {
      socket.write('GET /boot?mac=52:54')
      resolve(socket)
    })
    socket.on('close', () => resolve(socket))
  })
}

t.test('hazard: connection exhaustion by idle partial connections', async (t) => {
  const dir = tempPolicies()
  t.teardown(() => dir.remove())
  const config = join(dir.dir, 'config.json')
  writeFileSync(config, JSON.stringify({ http: { host: '127.0.0.1', port: 0 }, policies: { dir: 'policies' }, templates: { dir: 'templates' }, stateDir: 'state', log: { level: 'error' } }))
  const { child, port } = await startServe(config)
  t.teardown(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {
      // already gone
    }
  })

  await sample(port, 10) // warm-up
  const idle = await sample(port, 40)
  t.equal(idle.failed, 0, 'idle: every request answers')

  const closed: number[] = []
  const sockets: Socket[] = []
  const attackStart = Date.now()
  for (let i = 0; i < 1100; i++) sockets.push(await partial(port, '127.0.0.1', closed))
  for (let i = 0; i < 300; i++) sockets.push(await partial(port, `127.0.0.${2 + (i % 10)}`, closed))
  t.teardown(() => sockets.forEach((s) => s.destroy()))
  const attackReady = Date.now()
  const held = sockets.filter((s) => !s.destroyed).length
  t.comment(`attack: ${sockets.length} partial connections opened in ${attackReady - attackStart} ms, ${held} still held`)

  const during = await sample(port, 40)
  const bound = Math.max(2 * idle.p99, 500)
  t.comment(`p99 idle ${idle.p99.toFixed(1)} ms, during the attack ${during.p99.toFixed(1)} ms (bound ${bound.toFixed(1)} ms)`)
  t.equal(during.failed, 0, 'during the attack: every /healthz and /boot from another address answers')
  t.ok(during.p99 <= bound, `p99 during the attack ≤ max(2× idle, 500 ms)`)

  // Default headersTimeoutMs is 5000 and Node checks every second: all are gone well within 10 s.
  const deadline = attackStart + 10_000
  while (closed.length < sockets.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
  t.equal(closed.length, sockets.length, `every partial connection was closed by the server (last after ${Math.max(...closed) - attackStart} ms)`)
})
