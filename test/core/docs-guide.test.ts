/**
 * The policy in docs/guides/write-and-test-a-policy.md is an executable fixture: its cases must
 * pass, and the guide must show the fixture files verbatim, so that the two cannot drift apart.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { runPolicyTests } from '../../core/policy/policy-tests.js'

const fixtureDir = fileURLToPath(new URL('../fixtures/guide-policy/', import.meta.url))
const guide = readFileSync(new URL('../../docs/guides/write-and-test-a-policy.md', import.meta.url), 'utf8')

t.test('every case of the guide policy passes', async (t) => {
  const results = await runPolicyTests(fixtureDir, { timeoutMs: 50, memoryMb: 32 })
  const cases = readFileSync(`${fixtureDir}20-lab.test.ts`, 'utf8').match(/\bname: '/g) ?? []
  t.equal(results.length, cases.length, 'one result per case in 20-lab.test.ts')
  t.ok(results.length > 0, 'some cases ran')
  for (const r of results) t.equal(r.status, 'PASS', `${r.policy}: ${r.name}${r.message ? ` — ${r.message}` : ''}`)
})

t.test('the guide shows the fixture files verbatim', async (t) => {
  for (const file of ['20-lab.ts', '20-lab.test.ts']) {
    const text = readFileSync(`${fixtureDir}${file}`, 'utf8')
    t.ok(guide.includes(`\`\`\`ts\n${text}\`\`\``), `${file} appears as a complete ts code block`)
  }
})
