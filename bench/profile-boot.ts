/**
 * `node --import tsx bench/profile-boot.ts [bootpolicy|bootpolicy-warn|bare|naive] [seconds]`: CPU profile
 * of the bench server's threads under cold load (wrk, 50 connections, 100,000 machines; BP_DISTINCT=1:
 * hot), printed as the top functions by self time, then (main thread) by inclusive time: what a
 * function and everything it called cost, each sample counted once per name on its stack.
 * Not part of `npm run bench`: a tool for finding what the cold path pays for.
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
interface Named {
  readonly name: string
  readonly parent: number | undefined
}
interface Profile {
  nodes: Node[]
  samples: number[]
  timeDeltas: number[]
}

const mode = process.argv[2] ?? 'bootpolicy'
const seconds = Number(process.argv[3] ?? 10)
const distinct = Number(process.env.BP_DISTINCT ?? 100_000)
const dir = mkdtempSync(join(tmpdir(), 'bp-prof-'))
const server = fileURLToPath(new URL('./servers/boot-server.ts', import.meta.url))
const s = await startQuietServer(server, [mode], ['--cpu-prof', '--cpu-prof-dir', dir])
await wrkBoot(s.port, { connections: 50, seconds: 2, distinct })
const load = await wrkBoot(s.port, { connections: 50, seconds, distinct })
await stop(s.child)
console.log(`${mode}: ${Math.round(load.rps)} req/s under profile (${distinct} machines)`)
const top = Number(process.env.TOP ?? 20)
// One profile per thread (CPU.<date>.<pid>.<thread>.<seq>.cpuprofile): thread 0 is the main thread.
for (const file of readdirSync(dir)
  .filter((f) => f.endsWith('.cpuprofile'))
  .sort()) {
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile
  const self = new Map<number, number>()
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  const nodes = new Map<number, Named>()
  for (const n of profile.nodes) {
    const where = n.callFrame.url ? n.callFrame.url.replace(/^.*\/(node_modules\/|core\/|bench\/)/, '$1') : ''
    nodes.set(n.id, { name: `${n.callFrame.functionName || '(anonymous)'} ${where}`.trim(), parent: undefined })
  }
  for (const n of profile.nodes) for (const c of n.children ?? []) nodes.set(c, { ...nodes.get(c)!, parent: n.id })
  const byName = new Map<string, number>()
  let total = 0
  for (const [id, t] of self) {
    total += t
    const name = nodes.get(id)!.name
    byName.set(name, (byName.get(name) ?? 0) + t)
  }
  const thread = file.split('.')[4]
  console.log(`thread ${thread}: top self time of ${(total / 1e6).toFixed(1)} s`)
  for (const [name, t] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${((100 * t) / total).toFixed(1).padStart(5)}%  ${name}`)
  if (thread !== '0') continue
  const inclusive = new Map<string, number>()
  for (const [id, t] of self) {
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = nodes.get(at)!.parent) seen.add(nodes.get(at)!.name)
    for (const name of seen) inclusive.set(name, (inclusive.get(name) ?? 0) + t)
  }
  console.log(`thread ${thread}: top inclusive time`)
  for (const [name, t] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top * 2)) console.log(`${((100 * t) / total).toFixed(1).padStart(5)}%  ${name}`)
}
