/**
 * `node --import tsx bench/profile-boot.ts [bootpolicy|bootpolicy-warn] [seconds]`: CPU profile of the
 * bench server's main thread under cold load (wrk, 50 connections, 100,000 machines), printed as the
 * top functions by self time. Not part of `npm run bench`: a tool for finding what the cold path pays for.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startQuietServer, stop, wrkBoot } from './lib.js'

interface Node {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: Node[]
  samples: number[]
  timeDeltas: number[]
}

const mode = process.argv[2] ?? 'bootpolicy'
const seconds = Number(process.argv[3] ?? 10)
const dir = mkdtempSync(join(tmpdir(), 'bp-prof-'))
const server = fileURLToPath(new URL('./servers/boot-server.ts', import.meta.url))
const s = await startQuietServer(server, [mode], ['--cpu-prof', '--cpu-prof-dir', dir])
await wrkBoot(s.port, { connections: 50, seconds: 2, distinct: 100_000 })
const load = await wrkBoot(s.port, { connections: 50, seconds, distinct: 100_000 })
await stop(s.child)
console.log(`${mode}: ${Math.round(load.rps)} req/s under profile`)
// One profile per thread (CPU.<date>.<pid>.<thread>.<seq>.cpuprofile): thread 0 is the main thread.
for (const file of readdirSync(dir)
  .filter((f) => f.endsWith('.cpuprofile'))
  .sort()) {
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile
  const self = new Map<number, number>()
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  const byName = new Map<string, number>()
  let total = 0
  for (const n of profile.nodes) {
    const t = self.get(n.id) ?? 0
    total += t
    const where = n.callFrame.url ? n.callFrame.url.replace(/^.*\/(node_modules\/|core\/|bench\/)/, '$1') : ''
    const key = `${n.callFrame.functionName || '(anonymous)'} ${where}`.trim()
    byName.set(key, (byName.get(key) ?? 0) + t)
  }
  console.log(`thread ${file.split('.')[3]}: top self time of ${(total / 1e6).toFixed(1)} s`)
  for (const [name, t] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 20))) console.log(`${((100 * t) / total).toFixed(1).padStart(5)}%  ${name}`)
}
