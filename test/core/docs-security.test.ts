/**
 * docs/reference/security.md names, for every promise, the test that proves it. This keeps the page
 * honest: each named file exists and holds a test of that name (quotes and escapes of the source
 * normalised), so a renamed or deleted test fails here instead of leaving a promise unproved.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const root = join(dirname(fileURLToPath(import.meta.url)), '../..')
const page = readFileSync(join(root, 'docs/reference/security.md'), 'utf8')

/** Rows of the promise tables: `| promise | proved by |` with at least one test file in the second cell. */
function references(): { file: string; names: string[] }[] {
  const refs: { file: string; names: string[] }[] = []
  for (const line of page.split('\n')) {
    const cells = line.split(' | ')
    if (!line.startsWith('| ') || cells.length < 2) continue
    const proof = cells.at(-1)!
    // `path` — "name", "name"; `path` — "name"
    for (const m of proof.matchAll(/`((?:test|plugins)\/[^`]+\.test\.ts)` — ((?:"[^"]+"(?:, )?)+)/g)) {
      refs.push({ file: m[1]!, names: [...m[2]!.matchAll(/"([^"]+)"/g)].map((n) => n[1]!) })
    }
  }
  return refs
}

const normalise = (s: string): string => s.replace(/\\(['"`])/g, '$1')

t.test('every test that security.md names exists, by file and by name', async (t) => {
  const refs = references()
  t.ok(refs.length >= 30, `the page names ${refs.length} test files (rows parsed)`)
  for (const { file, names } of refs) {
    const path = join(root, file)
    if (!existsSync(path)) {
      t.fail(`${file} does not exist`)
      continue
    }
    const source = normalise(readFileSync(path, 'utf8'))
    for (const name of names) t.ok(source.includes(name), `${file} has a test "${name}"`)
  }
})

t.test('every promise row names a test', async (t) => {
  const rows = page.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| ---') && !l.startsWith('| promise') && !l.startsWith('| party'))
  const inPromiseTables = rows.filter((l) => !/^\| (the config|plugins|policies|templates|every network|iPXE on)/.test(l))
  for (const row of inPromiseTables) t.match(row, /`(test|plugins)\/[^`]+\.test\.ts` — "/, row.slice(0, 80))
})
