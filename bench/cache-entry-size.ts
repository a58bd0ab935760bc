/**
 * `node --expose-gc --no-node-snapshot --import tsx bench/cache-entry-size.ts [count]`: the heap one
 * distinct machine costs while it is held in the /boot memos (decision-cache.ts, the policy runner's
 * outcome cache), with the bench's seed-003 policy and iPXE's bootstrap query: the `entry size` of
 * the memory formula in docs/benchmarks.md. In-process (engine.handle), heap after a full GC.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { validateConfig, PACKAGE_ROOT } from '../core/config/load-config.js'
import { build } from '../core/http/build-app.js'
import { bootPath } from './lib/boot-clients.js'

const count = Number(process.argv[2] ?? 5000)
const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with --expose-gc')
const dir = mkdtempSync(join(tmpdir(), 'bp-entry-'))
writeFileSync(join(dir, '10-p.ts'), `export default (ctx: any) => ctx.mac === '52:54:00:00:00:00' ? { kind: 'reboot' } : undefined\n`)
const bp = await build(validateConfig({ policies: { dir, watch: false, cacheSize: count * 2 }, log: { level: 'silent' } }, PACKAGE_ROOT))
const ask = (n: number) => bp.engine.handle({ query: bootPath(n).split('?')[1]!, remoteAddress: '127.0.0.1', requestId: 'abcd000001' })
for (let n = 0; n < 200; n++) await ask(1_000_000 + n) // warm up: JIT, worker, memos of the constant parts
const heap = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}
const before = heap()
for (let n = 0; n < count; n++) await ask(n)
const after = heap()
console.log(JSON.stringify({ machines: count, memos: bp.engine.cache.sizes, bytesPerMachine: Math.round((after - before) / count), queryChars: bootPath(1).length - 6 }))
await bp.close()
