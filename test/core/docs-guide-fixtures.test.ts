/**
 * The migration guides' marked blocks are the e2e fixtures (test/helpers/guide-fixture.ts). This
 * checks without a VM what the boots rely on: the extractor refuses hostile or ambiguous markers,
 * the guides' configs pass bootpolicy's config validation, and the policies printed in the guides
 * are the shipped ones under policies/ (which have their own policy tests).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { configProblems } from '../../core/config/load-config.js'
import { guideBlocks, writeGuideFixture } from '../helpers/guide-fixture.js'

const REPO = join(import.meta.dirname, '..', '..')
const GUIDES = {
  'migrate-sysresccd-proxydhcp.md': { subs: { '172.16.0.2': '10.0.0.1' }, policy: 'policies/sysresccd/20-rescue-menu.ts' },
  'migrate-smartos-pfsense.md': { subs: { '10.1.1.7': '10.0.0.1', '$5$<salt>$<hash>': '$5$abc$def' }, policy: 'policies/smartos/20-smartos-menu.ts' },
}

t.test('marked blocks only, in order; unmarked blocks are prose', async (t) => {
  const md = ['# x', '```json', '{"a":1}', '```', '```json file=a.json', '{"b":2}', '```', '~~~ts file=p/x.ts', 'export default 1', '~~~', ''].join('\n')
  t.same(guideBlocks(md), [
    { file: 'a.json', lang: 'json', text: '{"b":2}\n' },
    { file: 'p/x.ts', lang: 'ts', text: 'export default 1\n' },
  ])
})

t.test('hostile or ambiguous file names are refused', async (t) => {
  for (const name of ['../x.json', '/etc/passwd', 'a/../../x', '..']) {
    t.throws(() => guideBlocks(`\`\`\`json file=${name}\n{}\n\`\`\`\n`), /relative path inside/, name)
  }
  t.throws(() => guideBlocks('```json file=a.json\n{}\n```\n```json file=./a.json\n{}\n```\n'), /two blocks for file=a.json/)
})

t.test('a substitution that matches nothing fails: the guide changed under the test', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'guide-fixture-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const guide = join(REPO, 'docs', 'guides', 'migrate-sysresccd-proxydhcp.md')
  t.throws(() => writeGuideFixture(guide, dir, { '192.0.2.99': 'x' }), /"192\.0\.2\.99" occurs in no marked block/)
  t.throws(() => writeGuideFixture(guide, dir, { '': 'x' }), /empty substitution/)
  const readme = join(REPO, 'README.md')
  t.throws(() => writeGuideFixture(readme, dir), /no fenced block marked file=/)
})

for (const [name, { subs, policy }] of Object.entries(GUIDES)) {
  t.test(`${name}: config valid, policy is the shipped one`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'guide-fixture-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const written = writeGuideFixture(join(REPO, 'docs', 'guides', name), dir, subs)
    t.same(Object.keys(written).sort(), ['bootpolicy.json', policy].sort())
    const config = JSON.parse(written['bootpolicy.json']!) as Record<string, unknown>
    t.same(configProblems(config), [], 'the guide\'s config passes validation')
    t.equal(readFileSync(join(dir, policy), 'utf8'), readFileSync(join(REPO, policy), 'utf8'), `the guide prints ${policy} as shipped`)
    t.notMatch(written['bootpolicy.json'], /10\.1\.1\.7|172\.16\.0\.2|<salt>/, 'every example value was replaced')
  })
}
