/**
 * Files over HTTP (issue 12): 200 concurrent keep-alive downloads of one 32 MiB initrd from
 * bootpolicy's /files/ and from nginx (sendfile, its Debian defaults: one worker per core), same
 * client (wrk, 2 threads, 200 connections, each downloading the file over and over), servers
 * measured in interleaved rounds. Aggregate bytes/s; the ratio is the median of the per-round
 * ratios. wrk counts every byte read, so downloads cut at the end of a round still count. Server
 * CPU per GiB sent is reported too: on a loaded machine nginx's workers (one per core) get more CPU
 * than one Node process, whatever either does with it.
 * Needs wrk and nginx.
 *   node --no-node-snapshot --import tsx bench/http-files.ts
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { loadavg, tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { requireCommand } from '../test/helpers/e2e-require.js'
import { median, startQuietServer, stop, type BenchResult, type Figure } from './lib.js'

const server = fileURLToPath(new URL('./servers/files-server.ts', import.meta.url))
const wrkScript = fileURLToPath(new URL('./lib/download-load.lua', import.meta.url))
const FILE_BYTES = 32 * 1024 * 1024
const CONNECTIONS = 200
const run$ = promisify(execFile)

interface Round {
  bytesPerSecond: number
  errors: number
  /** Server CPU seconds per GiB sent (nginx: its workers summed). */
  cpuPerGiB: number
}

/** utime + stime of a process and of its direct children (nginx's workers), in seconds. */
function cpuSeconds(pid: number): number {
  const one = (p: number) => {
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ')
      return (Number(f[11]) + Number(f[12])) / 100
    } catch {
      return 0
    }
  }
  let children: number[] = []
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    children = []
  }
  return one(pid) + children.reduce((n, c) => n + one(c), 0)
}

async function wrkDownload(port: number, seconds: number, pid: number): Promise<Round> {
  const wrk = requireCommand('wrk', 'wrk')
  const before = cpuSeconds(pid)
  // --timeout: one download of 32 MiB shared 200 ways takes seconds; wrk's 2 s default would call it lost.
  const { stdout } = await run$(wrk, ['-t2', `-c${CONNECTIONS}`, `-d${seconds}s`, '--timeout', '60s', '-s', wrkScript, `http://127.0.0.1:${port}/files/initrd.img`])
  const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as { requests: number; bytes: number; us: number; errors: number }
  return { bytesPerSecond: r.bytes / (r.us / 1e6), errors: r.errors, cpuPerGiB: ((cpuSeconds(pid) - before) / r.bytes) * 1024 ** 3 }
}

async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const { port } = s.address() as { port: number }
  await new Promise((resolve) => s.close(resolve))
  return port
}

/** nginx in the foreground with a private config; ready once it answers. */
async function startNginx(base: string, filesDir: string): Promise<{ port: number; child: ChildProcess }> {
  const nginx = requireCommand('nginx', 'nginx-light')
  const port = await freePort()
  const conf = path.join(base, 'nginx.conf')
  writeFileSync(
    conf,
    [
      'worker_processes auto;',
      'daemon off;',
      `pid ${base}/nginx.pid;`,
      `error_log ${base}/nginx-error.log;`,
      'events { worker_connections 1024; }',
      'http {',
      '  sendfile on; tcp_nopush on; keepalive_requests 100000;',
      `  access_log off; client_body_temp_path ${base}/tmp;`,
      `  proxy_temp_path ${base}/tmp; fastcgi_temp_path ${base}/tmp; uwsgi_temp_path ${base}/tmp; scgi_temp_path ${base}/tmp;`,
      `  server { listen 127.0.0.1:${port}; location /files/ { alias ${filesDir}/; } }`,
      '}',
      '',
    ].join('\n'),
  )
  const child = spawn(nginx, ['-c', conf, '-p', base], { stdio: 'ignore' })
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/files/small`).then(
      (r) => r.ok,
      () => false,
    )
    if (ok) return { port, child }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  child.kill('SIGTERM')
  throw new Error('nginx did not start')
}

export async function run(seconds = Number(process.env.BENCH_SECONDS ?? 6), rounds = Number(process.env.BENCH_ROUNDS ?? 3)): Promise<BenchResult> {
  const base = mkdtempSync(path.join(tmpdir(), 'bp-bench-files-'))
  // nginx workers run as nobody when started as root: the tree must be world-readable.
  chmodSync(base, 0o755)
  const filesDir = path.join(base, 'files')
  mkdirSync(filesDir, { mode: 0o755 })
  mkdirSync(path.join(base, 'tmp'))
  writeFileSync(path.join(filesDir, 'initrd.img'), randomBytes(FILE_BYTES), { mode: 0o644 })
  writeFileSync(path.join(filesDir, 'small'), 'ok\n', { mode: 0o644 })
  const ours = await startQuietServer(server, [filesDir])
  const theirs = await startNginx(base, filesDir)
  const figures: Figure[] = []
  try {
    // Warm-up: JIT, page cache.
    const pids = { bootpolicy: ours.child.pid as number, nginx: theirs.child.pid as number }
    await wrkDownload(ours.port, 1, pids.bootpolicy)
    await wrkDownload(theirs.port, 1, pids.nginx)
    const results = { bootpolicy: [] as Round[], nginx: [] as Round[] }
    const ratios: number[] = []
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 ? (['nginx', 'bootpolicy'] as const) : (['bootpolicy', 'nginx'] as const)
      for (const who of order) results[who].push(await wrkDownload(who === 'nginx' ? theirs.port : ours.port, seconds, pids[who]))
      ratios.push(results.bootpolicy[r]!.bytesPerSecond / results.nginx[r]!.bytesPerSecond)
    }
    const mibs = (xs: Round[]) => Math.round(median(xs.map((x) => x.bytesPerSecond)) / 1024 / 1024)
    const errors = (xs: Round[]) => xs.reduce((n, x) => n + x.errors, 0)
    figures.push({ name: `${CONNECTIONS} concurrent downloads of 32 MiB: nginx`, value: mibs(results.nginx), unit: 'MiB/s' })
    figures.push({
      name: `${CONNECTIONS} concurrent downloads of 32 MiB: bootpolicy`,
      value: mibs(results.bootpolicy),
      unit: 'MiB/s',
      ratio: median(ratios),
      baseline: 'nginx, same client',
      target: '≥ 0.7×',
    })
    const cpu = (xs: Round[]) => median(xs.map((x) => x.cpuPerGiB))
    // A loaded machine gives nginx's workers (one per core) more CPU than one Node process.
    figures.push({ name: 'server CPU per GiB sent: nginx (workers summed)', value: Math.round(cpu(results.nginx) * 100) / 100, unit: 's/GiB' })
    figures.push({
      name: 'server CPU per GiB sent: bootpolicy',
      value: Math.round(cpu(results.bootpolicy) * 100) / 100,
      unit: 's/GiB',
      ratio: cpu(results.bootpolicy) / cpu(results.nginx),
      baseline: 'nginx CPU (lower is better)',
    })
    figures.push({ name: 'errors and timeouts: nginx / bootpolicy', value: errors(results.nginx), unit: `/ ${errors(results.bootpolicy)}` })
  } finally {
    theirs.child.kill('SIGTERM')
    await stop(ours.child)
    rmSync(base, { recursive: true, force: true })
  }
  // Other work on the machine moves these figures; say how busy it was.
  figures.push({ name: 'load average (1 min) at the end of the run', value: Math.round(loadavg()[0]! * 10) / 10, unit: '' })
  return { name: 'http-files', figures }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const result = await run()
  for (const f of result.figures) {
    process.stdout.write(`${f.name}: ${f.value} ${f.unit}${f.ratio !== undefined ? ` (${f.ratio.toFixed(2)}× ${f.baseline})` : ''}\n`)
  }
}
