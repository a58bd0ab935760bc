/**
 * Each first-party plugin's README documents exactly the error codes its definition declares, in
 * declaration order and with the same When / How-to-fix text: the README is where a plugin's codes
 * are published, as docs/reference/errors.md is for core's.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import t from 'tap'
import type { BootpolicyPlugin, PluginFactory } from '../../../core/plugins/types.js'

const pluginsDir = fileURLToPath(new URL('../../../plugins/', import.meta.url))

/** Rows of the README's `| Code | When | How to fix |` table: [code, when, fix]. */
function documented(markdown: string): string[][] {
  const lines = markdown.split('\n')
  const header = lines.findIndex((l) => /^\|\s*Code\s*\|\s*When\s*\|\s*How to fix\s*\|\s*$/.test(l))
  if (header === -1) return []
  const rows: string[][] = []
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break
    const cells = line
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((c) => c.trim().replace(/\\\|/g, '|'))
    rows.push([cells[0]!.replace(/^`(.*)`$/, '$1'), cells[1] ?? '', cells[2] ?? ''])
  }
  return rows
}

const folders = readdirSync(pluginsDir, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)

t.test('the first-party plugins are all here', async (t) => {
  t.ok(folders.includes('iscsi-cow') && folders.length >= 7, folders.join(', '))
})

for (const folder of folders) {
  t.test(`${folder}: README documents exactly its error codes`, async (t) => {
    const mod = (await import(pathToFileURL(join(pluginsDir, folder, 'index.ts')).href)) as { default: PluginFactory }
    // The factory reads its options in setup and hooks, so empty options are enough to see the definition.
    const plugin = (await mod.default({})) as BootpolicyPlugin
    const declared = Object.entries(plugin.errors?.codes ?? {}).map(([code, spec]) => [code, spec.when, spec.fix])
    const rows = documented(readFileSync(join(pluginsDir, folder, 'README.md'), 'utf8'))
    t.same(
      rows.map((r) => r[0]),
      declared.map((d) => d[0]),
      'the same codes, in order',
    )
    t.same(rows, declared, 'the same When and How-to-fix text')
    for (const [code] of declared) t.match(code, new RegExp(`^(BP_ERR|BPWRN|BPSEC)_${plugin.errors!.namespace}_`), `${code} is in the plugin's namespace`)
  })
}

t.test('the iscsi-cow codes left core for the plugin', async (t) => {
  const { catalog, retiredCodes } = await import('../../../core/errors/catalog.js')
  t.same(
    Object.keys(catalog).filter((c) => c.startsWith('BP_ERR_ISCSI_')),
    [],
    'no iscsi code in core',
  )
  t.same(
    retiredCodes.filter((c) => Object.hasOwn(catalog, c)),
    [],
    'a retired code is not reused',
  )
})
