// Keeps only bootpolicy's own files (core/, plugins/, dist/) in a NODE_V8_COVERAGE directory, so that
// c8 reads megabytes instead of every process's copy of typescript, fastify and tap. Run before `c8 report`.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { PACKAGE_ROOT } from '../core/config/load-config.js'

const dir = process.argv[2]
if (!dir) throw new Error('usage: trim-coverage.ts <NODE_V8_COVERAGE directory>')
const root = pathToFileURL(PACKAGE_ROOT).href
const ours = (url: string): boolean => ['core/', 'plugins/', 'dist/'].some((d) => url.startsWith(`${root}/${d}`)) && !url.includes('/node_modules/')
let before = 0
let after = 0
for (const name of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
  const file = join(dir, name)
  const text = readFileSync(file, 'utf8')
  const data = JSON.parse(text) as { result: { url: string }[]; 'source-map-cache'?: Record<string, unknown> }
  data.result = data.result.filter((r) => ours(r.url))
  if (data['source-map-cache']) data['source-map-cache'] = Object.fromEntries(Object.entries(data['source-map-cache']).filter(([url]) => ours(url)))
  const trimmed = JSON.stringify(data)
  before += text.length
  after += trimmed.length
  writeFileSync(file, trimmed)
}
process.stdout.write(`coverage data trimmed to bootpolicy's files: ${(before / 1e6).toFixed(1)} MB → ${(after / 1e6).toFixed(1)} MB\n`)
