/**
 * docs/reference/errors.md lists every catalog entry exactly once, in catalog order, and every
 * code has the published shape. Adding, renaming or removing a code means editing that page too.
 */
import { readFileSync } from 'node:fs'
import t from 'tap'
import { catalog } from '../../../core/errors/catalog.js'

const CODE = /^(BP_ERR_[A-Z]+_[A-Z_]+|BPWRN\d{3}|BPSEC\d{3})$/
const page = readFileSync(new URL('../../../docs/reference/errors.md', import.meta.url), 'utf8')

/** Codes of the `| Code | When | How to fix |` table, in page order. */
function documentedCodes(markdown: string): string[] {
  const lines = markdown.split('\n')
  const header = lines.findIndex((l) => /^\|\s*Code\s*\|\s*When\s*\|\s*How to fix\s*\|\s*$/.test(l))
  if (header === -1) return []
  const codes: string[] = []
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break
    const cell = line.split('|')[1]!.trim()
    codes.push(cell.replace(/^`(.*)`$/, '$1'))
  }
  return codes
}

const documented = documentedCodes(page)
const catalogued = Object.keys(catalog)

t.test('the page has the errors table', async (t) => {
  t.ok(documented.length > 0, 'a | Code | When | How to fix | table with rows')
})

t.test('every code has the published shape', async (t) => {
  for (const code of catalogued) t.match(code, CODE, `catalog: ${code}`)
  for (const code of documented) t.match(code, CODE, `docs: ${code}`)
})

t.test('the documented codes are exactly the catalog keys', async (t) => {
  const missing = catalogued.filter((c) => !documented.includes(c))
  const unknown = documented.filter((c) => !catalogued.includes(c))
  const duplicates = documented.filter((c, i) => documented.indexOf(c) !== i)
  t.same(missing, [], 'every catalog entry has a row')
  t.same(unknown, [], 'every row names a catalog entry')
  t.same(duplicates, [], 'no code has two rows')
  t.same(new Set(documented), new Set(catalogued))
})

t.test('rows follow catalog order', async (t) => {
  t.same(documented, catalogued)
})

t.test('every row says when and how to fix', async (t) => {
  const rows = page.split('\n').filter((l) => documented.some((c) => l.startsWith(`| \`${c}\` |`)))
  for (const row of rows) {
    const [, code, when, fix] = row.split('|').map((c) => c.trim())
    t.ok(when && fix, `${code} has both cells`)
  }
})
