// Regenerates the table of docs/reference/errors.md from core/errors/catalog.ts (`npm run error-docs`).
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../core/config/load-config.js'
import { catalog } from '../core/errors/catalog.js'
import { errorTable, withErrorTable } from '../core/errors/error-docs.js'

const file = join(PACKAGE_ROOT, 'docs/reference/errors.md')
const page = readFileSync(file, 'utf8')
const next = withErrorTable(page, errorTable(catalog))
if (next !== page) writeFileSync(file, next)
process.stdout.write(`${next === page ? 'unchanged' : 'updated'}: ${file}\n`)
