/** docs/reference/errors.md's table is exactly what scripts/write-error-docs.ts generates from the catalog. */
import { execFileSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { PACKAGE_ROOT } from '../../../core/config/load-config.js'
import { catalog } from '../../../core/errors/catalog.js'
import { errorTable, TABLE_END, TABLE_START, withErrorTable } from '../../../core/errors/error-docs.js'

const pageFile = join(PACKAGE_ROOT, 'docs/reference/errors.md')

t.test('the page holds exactly the generated table (npm run error-docs)', async (t) => {
  const page = readFileSync(pageFile, 'utf8')
  t.equal(withErrorTable(page, errorTable(catalog)), page)
})

t.test('the prose outside the markers is kept, the table inside replaced', async (t) => {
  const page = `# Errors\n\nHand-written intro.\n\n${TABLE_START}\n| stale |\n${TABLE_END}\n\nHand-written outro.\n`
  const next = withErrorTable(page, errorTable({ BP_ERR_X_Y: { message: 'm', status: 418, when: 'Always.', fix: 'Never.' } }))
  t.equal(
    next,
    `# Errors\n\nHand-written intro.\n\n${TABLE_START}\n| Code | When | How to fix |\n|---|---|---|\n| \`BP_ERR_X_Y\` | HTTP 418. Always. | Never. |\n${TABLE_END}\n\nHand-written outro.\n`,
  )
  t.equal(withErrorTable(next, errorTable({ BP_ERR_X_Y: { message: 'm', status: 418, when: 'Always.', fix: 'Never.' } })), next, 'idempotent')
})

t.test('hostile catalog text cannot break the table', async (t) => {
  const table = errorTable({ BP_ERR_A_B: { message: 'm', when: 'use {{ a | text }} or a \\| b', fix: 'x|y' } })
  t.equal(table.split('\n')[2], '| `BP_ERR_A_B` | use {{ a \\| text }} or a \\| b | x\\|y |', 'every | inside a cell is escaped once')
  t.throws(() => errorTable({ BP_ERR_A_B: { message: 'm', when: 'two\nlines', fix: 'f' } }), /BP_ERR_A_B: documentation text must be one line/)
  t.throws(() => errorTable({ BP_ERR_A_B: { message: 'm', when: 'w', fix: ' ' } }), /BP_ERR_A_B: documentation text is empty/)
})

t.test('missing, repeated or swapped markers are refused with the marker text', async (t) => {
  const table = errorTable(catalog)
  for (const page of ['no markers', `${TABLE_START}\nx`, `x\n${TABLE_END}`, `${TABLE_END}\n${TABLE_START}`, `${TABLE_START}\n${TABLE_END}\n${TABLE_START}\n${TABLE_END}`]) {
    t.throws(() => withErrorTable(page, table), /must hold the markers <!-- error-table:start/, JSON.stringify(page))
  }
})

t.test('the script rewrites a stale page in place and leaves a current one alone', async (t) => {
  // A copy of the repository's scripts/docs layout, so the real page is never written by a test.
  const dir = mkdtempSync(join(tmpdir(), 'bp-error-docs-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const part of ['core', 'scripts', 'package.json']) cpSync(join(PACKAGE_ROOT, part), join(dir, part), { recursive: true })
  cpSync(join(PACKAGE_ROOT, 'docs/reference/errors.md'), join(dir, 'docs/reference/errors.md'))
  symlinkSync(join(PACKAGE_ROOT, 'node_modules'), join(dir, 'node_modules'))
  const page = join(dir, 'docs/reference/errors.md')
  const current = readFileSync(page, 'utf8')
  writeFileSync(page, current.replace(/^\| `BP_ERR_CONFIG_READ` .*$/m, '| `BP_ERR_CONFIG_READ` | stale | stale |').replace(/^\| `BPSEC004` .*\n/m, ''))
  const run = (): string => execFileSync(process.execPath, ['--import', 'tsx', join(dir, 'scripts/write-error-docs.ts')], { cwd: dir, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } })
  t.match(run(), /^updated: /)
  t.equal(readFileSync(page, 'utf8'), current)
  t.match(run(), /^unchanged: /)
})
