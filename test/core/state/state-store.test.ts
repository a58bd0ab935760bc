import t from 'tap'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { JsonFileStateStore } from '../../../core/state/state-store.js'

t.test('documents survive a new store instance; writes leave no temp files; bad keys are refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bp-state-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const a = new JsonFileStateStore(join(dir, 'state'))
  t.equal(await a.read('leases'), undefined)
  await Promise.all(Array.from({ length: 20 }, (_, i) => a.write('leases', { n: i })))
  const b = new JsonFileStateStore(join(dir, 'state'))
  t.match(await b.read<{ n: number }>('leases'), { n: Number })
  t.same(readdirSync(join(dir, 'state')), ['leases.json'])
  await t.rejects(a.write('../escape', {}), /bad state key/)
})
