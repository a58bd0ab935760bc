/**
 * The document copy under `bootpolicy state import`, on a real PostgreSQL 15: created from version
 * 0 or left alone, a dry run writes nothing, a bad key or (for a plugin) a key outside the plugin's
 * name is refused and listed, never written. Also: a plugin's importState must be a function.
 */
import t from 'tap'
import { checkPluginDefinition } from '../../../core/plugins/check-plugin-definition.js'
import type { BootpolicyPlugin } from '../../../core/plugins/types.js'
import { importDocuments } from '../../../core/state/document-import.js'
import { kindReport } from '../../../core/state/import-report.js'
import { pgBackend } from '../../helpers/state-backends.js'

t.setTimeout(300_000)

t.test('copies without overwriting; dry run; refused keys', async (t) => {
  const b = await pgBackend(t)
  await b.write('rack/kept', { from: 'database' })
  const docs = [
    { key: 'rack/new', value: { n: 1 } },
    { key: 'rack/kept', value: { from: 'files' } },
    { key: 'other/x', value: 1 },
    { key: 'rack/Bad Key', value: 1 },
  ]
  const dry = await importDocuments(b, docs, kindReport('plugin:rack', 'dir'), true, 'rack/')
  t.same(dry.imported, ['rack/new'])
  t.notOk(await b.get('rack/new'), 'a dry run writes nothing')
  const r = await importDocuments(b, docs, kindReport('plugin:rack', 'dir'), false, 'rack/')
  t.same(r.imported, ['rack/new'])
  t.same(r.conflicts, [
    { item: 'rack/kept', why: "differs in the database (kept the database's)" },
    { item: 'other/x', why: 'not under "rack/" (not imported)' },
    { item: 'rack/Bad Key', why: 'not a valid state key (not imported)' },
  ])
  t.same(await b.read('rack/kept'), { from: 'database' }, 'never overwritten')
  t.same(await b.keys(''), ['rack/kept', 'rack/new'], 'nothing else written')
  const again = await importDocuments(b, docs.slice(0, 1), kindReport('plugin:rack', 'dir'), false, 'rack/')
  t.same([again.imported, again.unchanged], [[], ['rack/new']])
})

t.test('a plugin definition with an importState that is not a function is refused', async (t) => {
  const plugin = { name: 'rack', version: '1.0.0', bootpolicy: '^0.1.0', importState: 'nope' } as unknown as BootpolicyPlugin
  t.throws(() => checkPluginDefinition(plugin), { code: 'BP_ERR_PLUGIN_DEFINITION', message: /importState must be a function/ })
  t.doesNotThrow(() => checkPluginDefinition({ name: 'rack', version: '1.0.0', bootpolicy: '^0.1.0', importState: async () => [] }))
})
