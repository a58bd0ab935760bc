/** smartos plugin: scanning, enrich, the smartos.boot kind (validation, rendering), options, rescan. */
import t from 'tap'

type Tap = { teardown(fn: () => unknown): void }
import { build } from '../../../core/http/build-app.js'
import { parseScript } from '../../../test/helpers/ipxe-tokenize.js'
import { captureLogs } from '../../../test/helpers/log-capture.js'
import { tempPolicies } from '../../../test/helpers/policy-dir.js'
import { scanBuilds } from '../scan-builds.js'
import { addBuild, HASH, smartosTree } from './helpers.js'

const argvs = (body: string): string[][] => parseScript(body).commands.map((c) => c.argv)

t.test('scan: complete builds newest first; the platform-<build> mistake and missing files are named', async (t) => {
  const tree = smartosTree()
  t.teardown(() => tree.remove())
  const found = await scanBuilds(tree.root)
  t.same(found.builds, ['20130808T195337Z', '20130405T010449Z'])
  t.same(found.problems.sort(), ['20120101T000000Z: missing platform/i86pc/amd64/boot_archive', '20121004T212912Z: rename 20121004T212912Z/platform-20121004T212912Z to 20121004T212912Z/platform'])
})

async function app(t: Tap, policy: string, options: Record<string, unknown> = {}) {
  const tree = smartosTree()
  const dir = tempPolicies({ 'p.ts': policy })
  t.teardown(() => {
    tree.remove()
    return dir.remove()
  })
  const logs = captureLogs('info')
  const bp = await build(dir.config({ plugins: [{ name: 'smartos', options: { root: tree.root, urlPrefix: '/files/smartos', rootShadow: HASH, ...options } }] }), { logger: logs.logger })
  t.teardown(() => bp.close())
  return { bp, tree, logs }
}

t.test('enrich: policies see the builds, newest first', async (t) => {
  const { bp, logs } = await app(t, `export default (ctx: any) => ({ kind: 'exit', message: JSON.stringify(ctx.plugins.smartos) })`)
  const res = await bp.app.inject('/boot?mac=52:54:00:12:34:56')
  t.equal(
    argvs(res.body)
      .find((a) => a[0] === 'echo')
      ?.slice(1)
      .join(' '),
    '{"builds":["20130808T195337Z","20130405T010449Z"]}',
  )
  t.ok(
    logs.records().some((r) => r.msg === 'smartos build skipped' && /rename/.test(String(r.problem))),
    'the rename mistake is logged',
  )
})

t.test('smartos.boot renders kernel -B …, module, boot; iPXE hands the kernel root_shadow exactly', async (t) => {
  const policy = `import { smartosBoot, smartosBuilds } from 'bootpolicy/plugins/smartos'
export default (ctx: any) => smartosBoot(smartosBuilds(ctx)[0]!, { noimport: ctx.params.noimport === '1' })`
  const { bp } = await app(t, policy)
  const res = await bp.app.inject('/boot?mac=52:54:00:12:34:56')
  t.equal(res.statusCode, 200)
  const cmds = argvs(res.body)
  const kernel = cmds.find((a) => a[0] === 'kernel')!
  t.same(kernel, ['kernel', '/files/smartos/20130808T195337Z/platform/i86pc/kernel/amd64/unix', '-B', `console=text,root_shadow='${HASH}',smartos=true`])
  t.same(
    cmds.find((a) => a[0] === 'module'),
    ['module', '/files/smartos/20130808T195337Z/platform/i86pc/amd64/boot_archive'],
  )
  t.ok(cmds.some((a) => a[0] === 'boot'))
  t.notMatch(res.body, /\$\{(?!bpv\d+:string\}|bp-req\})/, 'no other expansion in the script')
  t.matchSnapshot(res.body.replace(/set bp-req \S+/, 'set bp-req <id>'), 'rendered script')

  const noimport = await bp.app.inject('/boot?mac=52:54:00:12:34:56&noimport=1')
  t.equal(argvs(noimport.body).find((a) => a[0] === 'kernel')![3], `console=text,root_shadow='${HASH}',smartos=true,noimport=true`)
})

t.test('a serial console and an absolute URL prefix', async (t) => {
  const policy = `import { smartosBoot } from 'bootpolicy/plugins/smartos'
export default () => smartosBoot('20130405T010449Z')`
  const { bp } = await app(t, policy, { console: 'ttyb', urlPrefix: 'http://10.1.1.7/smartos/' })
  const kernel = argvs((await bp.app.inject('/boot')).body).find((a) => a[0] === 'kernel')!
  t.equal(kernel[1], 'http://10.1.1.7/smartos/20130405T010449Z/platform/i86pc/kernel/amd64/unix')
  t.match(kernel[3], /^console=ttyb,/)
})

t.test('validation: unknown build, malformed build, unknown field → failsafe, named problems', async (t) => {
  const policy = `export default (ctx: any) => ({ kind: 'smartos.boot', build: ctx.params.b, ...(ctx.params.x ? { shadow: 'x' } : {}) })`
  const { bp, logs } = await app(t, policy)
  for (const [query, problem] of [
    ['b=20990101T000000Z', /unknown build "20990101T000000Z"/],
    ['b=latest', /expected a build name/],
    ['b=20130405T010449Z&x=1', /\.shadow: unknown field/],
  ] as const) {
    const res = await bp.app.inject(`/boot?${query}`)
    t.match(res.body, /bootpolicy: BP_ERR_POLICY_BAD_DECISION/, query)
    t.notMatch(res.body, /kernel/)
    const rec = (await bp.engine.handle({ query, remoteAddress: '127.0.0.1', requestId: 'x' })).record
    t.match(rec.error?.message, problem, query)
  }
  t.ok(logs.records().length > 0)
})

t.test('options: rootShadow is required and must be a crypt hash; unknown options are refused', async (t) => {
  const tree = smartosTree()
  const dir = tempPolicies({ 'p.ts': 'export default () => undefined' })
  t.teardown(() => {
    tree.remove()
    return dir.remove()
  })
  const cfg = (options: Record<string, unknown>) => dir.config({ plugins: [{ name: 'smartos', options: { root: tree.root, urlPrefix: '/files/smartos', ...options } }] })
  await t.rejects(build(cfg({})), { code: 'BP_ERR_PLUGIN_OPTIONS', message: /rootShadow/ })
  await t.rejects(build(cfg({ rootShadow: "$5$abc$def',x=1" })), { code: 'BP_ERR_PLUGIN_OPTIONS' })
  await t.rejects(build(cfg({ rootShadow: 'plaintext-password' })), { code: 'BP_ERR_PLUGIN_OPTIONS' })
  await t.rejects(build(cfg({ rootShadow: HASH, console: 'ttyz' })), { code: 'BP_ERR_PLUGIN_OPTIONS' })
  await t.rejects(build(cfg({ rootShadow: HASH, shadow: HASH })), { code: 'BP_ERR_PLUGIN_OPTIONS', message: /shadow/ })
  await t.rejects(build(cfg({ rootShadow: HASH, root: `${tree.root}/nope` })), { code: 'BP_ERR_PLUGIN_HOOK', message: /ENOENT/ })
})

t.test('rescan picks up a new build without a restart', async (t) => {
  const { bp, tree } = await app(t, `export default (ctx: any) => ({ kind: 'exit', message: (ctx.plugins.smartos?.builds ?? []).join(' ') })`, { rescanMs: 30 })
  addBuild(tree.root, '20240101T000000Z')
  // The rescan runs every 30 ms; under load a timer can be late by seconds, so poll (10 s at most).
  const seen = /echo 20240101T000000Z 20130808T195337Z 20130405T010449Z/
  const deadline = Date.now() + 10_000
  let body = ''
  do {
    await new Promise((r) => setTimeout(r, 100))
    body = (await bp.app.inject('/boot?mac=52:54:00:00:00:01')).body
  } while (!seen.test(body) && Date.now() < deadline)
  t.match(body, seen)
})
