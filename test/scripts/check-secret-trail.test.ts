/**
 * The whole-suite secret grep proves itself: a secret planted in a captured log line or in an HTTP
 * response body (real socket and fastify inject, captured by the trail-responses.mjs preload)
 * fails the checker, which names file and line but never prints the secret.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { checkSecretTrail } from '../../scripts/check-secret-trail.js'

const run = promisify(execFile)
const root = resolve(import.meta.dirname, '../..')

function trailDir(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'bp-trail-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

t.test('a planted secret in a captured line fails the checker; a clean trail passes', async (t) => {
  const dir = trailDir(t)
  writeFileSync(join(dir, 'secrets'), `${JSON.stringify('planted-Secret-42')}\n${JSON.stringify('other-secret-7')}\n${JSON.stringify('x')}\n`)
  writeFileSync(join(dir, 'logs-1.txt'), '{"msg":"fine"}\n{"msg":"password is [redacted]"}\n')
  t.same(checkSecretTrail(dir), { lines: 2, secrets: 2, files: 1, leaks: [] }, 'too-short secrets are not looked for')
  writeFileSync(join(dir, 'responses-2.txt'), '#!ipxe\necho ok\nset password planted-Secret-42\n')
  t.same(checkSecretTrail(dir).leaks, [{ file: 'responses-2.txt', line: 3, secret: 'pl…(17 chars)' }])

  const cli = await run('node', ['--import', 'tsx', join(root, 'scripts/check-secret-trail.ts'), dir], { cwd: root }).then(
    () => undefined,
    (e: { code: number; stdout: string; stderr: string }) => e,
  )
  t.equal(cli?.code, 1, 'the CLI exits 1 on a leak')
  t.match(cli?.stdout, /secret trail: 5 captured lines in 2 files checked for 2 secrets: 1 leaks/)
  t.match(cli?.stderr, /LEAK responses-2\.txt:3 pl…\(17 chars\)/)
  t.notMatch(`${cli?.stdout}${cli?.stderr}`, /planted-Secret-42/, 'the report never prints the secret')
})

t.test('the response preload captures bodies sent over a real socket and through fastify inject', async (t) => {
  const dir = trailDir(t)
  const script = join(dir, 'serve.mjs')
  writeFileSync(
    script,
    `
    import { createServer } from 'node:http'
    import Fastify from ${JSON.stringify(join(root, 'node_modules/fastify/fastify.js'))}
    const server = createServer((req, res) => res.end('real socket says planted-Secret-77'))
    await new Promise((r) => server.listen(0, '127.0.0.1', r))
    await (await fetch('http://127.0.0.1:' + server.address().port + '/')).text()
    server.close()
    const app = Fastify()
    app.get('/', async () => 'inject says planted-Secret-88')
    await app.inject('/')
    await app.close()
  `,
  )
  writeFileSync(join(dir, 'secrets'), ['planted-Secret-77', 'planted-Secret-88'].map((s) => JSON.stringify(s)).join('\n') + '\n')
  await run('node', [script], { env: { ...process.env, BP_TEST_TRAIL: dir, NODE_OPTIONS: `--import=${join(root, 'test/helpers/trail-responses.mjs')}` } })
  const report = checkSecretTrail(dir)
  t.equal(report.leaks.length, 2, 'both bodies were captured and both secrets found')
  t.same(report.leaks.map((l) => l.secret).sort(), ['pl…(17 chars)', 'pl…(17 chars)'])
})
