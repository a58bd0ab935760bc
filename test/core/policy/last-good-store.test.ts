/**
 * Hazard: the last good version of a policy lives only in memory, so a restart while the file is
 * broken drops it. The store must round-trip, never serve a damaged blob, and stay readable
 * after a kill -9 in the middle of its writes (a real SIGKILL of a child that keeps writing).
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import type { CompiledPolicy } from '../../../core/policy/compile-policy.js'
import { LastGoodStore } from '../../../core/policy/last-good-store.js'
import { PolicySet } from '../../../core/policy/policy-set.js'
import { tempPolicies } from '../../helpers/policy-dir.js'

function fakePolicy(name: string, code: string): CompiledPolicy {
  return { name, file: `/x/${name}`, code, map: '{}', entry: `${name}:1`, hash: createHash('sha256').update(code).digest('hex'), inputs: [name] }
}

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'bp-lastgood-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

// Child processes, type checks and reloads on a busy shared 2-core machine: minutes, not the 120 s default.
t.setTimeout(600_000)
t.test('round trip: saved policies load back with their hash and since; gone ones leave the index', async (t) => {
  const dir = tempDir(t)
  const a = fakePolicy('10-a.ts', 'var a = 1')
  const b = fakePolicy('20-b.ts', 'var b = 1')
  const store = new LastGoodStore(dir)
  await store.save([a, b], [], new Date('2026-01-02T03:04:05Z'))
  const again = new LastGoodStore(dir)
  const loaded = await again.load('10-a.ts', '/y/10-a.ts')
  t.equal(loaded?.hash, a.hash)
  t.equal(loaded?.code, a.code)
  t.equal(loaded?.file, '/y/10-a.ts')
  t.equal(loaded?.since, '2026-01-02T03:04:05.000Z')
  // b is broken now (kept), a is gone from the directory.
  await again.save([], ['20-b.ts'])
  const third = new LastGoodStore(dir)
  t.same(Object.keys(await third.read()), ['20-b.ts'])
  t.equal(await third.load('10-a.ts', '/y/10-a.ts'), undefined)
  t.same(readdirSync(dir).sort(), [`${b.hash}.json`, 'last-good.json'].sort(), 'the blob no entry names is removed')
})

t.test('a damaged or missing blob, or a damaged index, is never served', async (t) => {
  const dir = tempDir(t)
  const a = fakePolicy('10-a.ts', 'var a = "good"')
  await new LastGoodStore(dir).save([a], [])
  const blob = join(dir, `${a.hash}.json`)
  writeFileSync(blob, readFileSync(blob, 'utf8').replace('good', 'evil'))
  t.equal(await new LastGoodStore(dir).load('10-a.ts', '/y'), undefined, 'content that does not hash to the name')
  writeFileSync(blob, '{"truncated')
  t.equal(await new LastGoodStore(dir).load('10-a.ts', '/y'), undefined, 'truncated JSON')
  rmSync(blob)
  t.equal(await new LastGoodStore(dir).load('10-a.ts', '/y'), undefined, 'missing blob')
  for (const index of ['not json', '{"policies":{"10-a.ts":{"hash":"../../etc/passwd","since":"x"}}}', '{"policies":[1,2]}', 'null']) {
    writeFileSync(join(dir, 'last-good.json'), index)
    t.same(await new LastGoodStore(dir).read(), {}, `index ${JSON.stringify(index)} reads as empty`)
  }
})

t.test('kill -9 during writes: the store stays readable and every entry loads intact', async (t) => {
  const dir = tempDir(t)
  const storeUrl = pathToFileURL(join(import.meta.dirname, '../../../core/policy/last-good-store.ts')).href
  const script = join(dir, 'writer.mts')
  // Large bundles (1 MB each) so that a kill lands inside a write more often than between writes.
  writeFileSync(
    script,
    `import { createHash } from 'node:crypto'
import { LastGoodStore } from ${JSON.stringify(storeUrl)}
const store = new LastGoodStore(process.argv[2])
const big = 'x'.repeat(1 << 20)
for (let i = 0; ; i++) {
  const ps = ['10-a.ts', '20-b.ts', '30-c.ts'].map((name, k) => {
    const code = 'var v = ' + (i * 3 + k) + '; // ' + big
    return { name, file: name, code, map: '{}', entry: name + ':1', hash: createHash('sha256').update(code).digest('hex') }
  })
  await store.save(ps.slice(0, 2 + (i % 2)), i % 2 ? [] : ['30-c.ts'])
  if (i === 0) process.stdout.write('first\\n')
}
`,
  )
  const storeDir = join(dir, 'store')
  let killedInWrite = 0
  for (let round = 0; round < 6; round++) {
    const child = spawn(process.execPath, ['--import', 'tsx', script, storeDir], { stdio: ['ignore', 'pipe', 'inherit'] })
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve())
      child.once('exit', (code) => reject(new Error(`writer exited early with ${code}`)))
    })
    await sleep(50 + Math.floor(Math.random() * 400))
    child.kill('SIGKILL')
    await new Promise((resolve) => child.once('exit', resolve))
    if (readdirSync(storeDir).some((f) => f.includes('.tmp-'))) killedInWrite++
    const store = new LastGoodStore(storeDir)
    const index = await store.read()
    const names = Object.keys(index)
    t.ok(names.length >= 2, `round ${round}: the index is readable (${names.join(', ')})`)
    for (const name of names) {
      const p = await store.load(name, name)
      t.ok(p, `round ${round}: ${name} loads`)
      t.equal(p && createHash('sha256').update(p.code).digest('hex'), index[name]!.hash, `round ${round}: ${name} is intact`)
    }
    // The next save (a restarted server) clears what the killed writer left half-done.
    await store.save([fakePolicy('10-a.ts', `var after = ${round}`)], ['20-b.ts'])
    t.notOk(
      readdirSync(storeDir).some((f) => f.includes('.tmp-')),
      `round ${round}: temp files removed`,
    )
  }
  t.comment(`${killedInWrite} of 6 kills left a temp file behind (landed mid-write)`)
})

t.test('restart while a policy is broken: the stored last good version serves, marked stale from stateDir', async (t) => {
  const dir = tempPolicies({ '10-p.ts': `export default () => ({ kind: 'exit', message: 'v1' })` })
  t.teardown(() => dir.remove())
  const storeDir = join(dir.dir, 'state', 'policies')
  const config = dir.config()
  const first = new PolicySet(dir.policiesDir, config.policies, undefined, {}, undefined, { lastGood: new LastGoodStore(storeDir) })
  await first.load()
  const good = first.revision
  first.close()

  dir.write('10-p.ts', `export default () => ({ kind: 'exit', message: 'v2' ))`)
  const second = new PolicySet(dir.policiesDir, config.policies, undefined, {}, undefined, { lastGood: new LastGoodStore(storeDir) })
  await second.load()
  t.teardown(() => second.close())
  t.equal(second.revision, good, 'the stored version serves')
  t.equal(second.problems[0]?.code, 'BP_ERR_POLICY_COMPILE', 'and the broken file is reported')
  t.equal(second.stale[0]?.from, 'stateDir')
  t.ok(good.includes(second.stale[0]!.revision))

  // The store of another site's name is not served for a file it never held.
  dir.write('20-new.ts', `export default () => ({ kind: 'exit' ))`)
  await second.load()
  t.same(
    second.policies.map((p) => p.name),
    ['10-p.ts'],
    'a broken policy with no stored version is not served',
  )
})
