/**
 * The whole /boot flow with a real tgtd: a stub authenticate plugin, a policy returning
 * iscsiCow(), the prepare hook, the rendered script (sanboot and kernel), and the log: the CHAP
 * secret is in the script only, never in a log line, and responses are never cached.
 */
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from '../../../core/http/build-app.js'
import { captureLogs } from '../../../test/helpers/log-capture.js'
import { tempPolicies } from '../../../test/helpers/policy-dir.js'
import { parseScript } from '../../../test/helpers/ipxe-tokenize.js'
import { iscsiEnv, iscsiInq, qemuIo } from './helpers.js'

const indexFile = fileURLToPath(new URL('../index.ts', import.meta.url))

const POLICY = `
import { login } from 'bootpolicy/policy'
import { iscsiCow } from 'bootpolicy/plugins/iscsi-cow'
export default (ctx: any) => {
  if (ctx.auth.status !== 'authenticated') return login({ params: { instance: 'fc29' } })
  if (ctx.params.how === 'kernel') {
    return iscsiCow({ image: 'fc29', boot: { kernel: 'file:///linux/vmlinuz-4.19.5-300.fc29.x86_64', initrds: ['file:///linux/initramfs-4.19.5-300.fc29.x86_64.img'], args: ['rw', 'ip=dhcp', 'rd.peerdns=0'] } })
  }
  return iscsiCow({ image: 'fc29', message: 'Booting your Fedora 29 disk' })
}
`

t.test('login → prepare → sanboot script with CHAP; kernel variant; secret never logged; nothing cached', async (t) => {
  const env = await iscsiEnv()
  t.teardown(() => env.cleanup())
  const dir = tempPolicies({ '50-fedora.ts': POLICY })
  t.teardown(() => dir.remove())
  const stub = join(dir.dir, 'stub-auth.mjs')
  writeFileSync(
    stub,
    `export default () => ({ name: 'stub-auth', version: '1.0.0', bootpolicy: '^0.1.0', hooks: { authenticate: async (ctx, c) => c.password === 'pw-' + c.username ? { principal: { name: c.username, groups: [], source: '' } } : { failed: 'wrong password' } } })\n`,
  )
  const logs = captureLogs('debug')
  const config = dir.config({
    stateDir: join(env.dir, 'var'),
    policies: { cacheSize: 1000 },
    plugins: [
      { name: 'stub-auth', path: stub },
      { name: 'iscsi-cow', path: indexFile, options: env.options },
    ],
  })
  env.track(join(env.dir, 'var', 'plugins', 'iscsi-cow'), config.state)
  const bp = await build(config, { logger: logs.logger })
  t.teardown(() => bp.close())
  t.equal(bp.plugins.hasPrepare, true, 'a prepare hook runs on every request, cached response or not')

  const anon = await bp.app.inject('/boot?mac=52:54:00:12:34:56')
  t.match(anon.body, /\nlogin \|\| goto/, 'no user: the policy asks for a login')

  const res = await bp.app.inject('/boot?mac=52:54:00:12:34:56&instance=fc29&username=alice&password=pw-alice')
  const { commands, labels } = parseScript(res.body)
  const argv = commands.map((c) => c.argv.join(' '))
  const secret = commands.find((c) => c.argv[0] === 'set' && c.argv[1] === 'password')?.argv[2]
  t.match(secret, /^[A-Za-z0-9]{16}$/)
  t.match(argv[0], /^set bp-req /)
  // The core clears the login's username/password first; the CHAP account is set after that.
  t.same(argv.slice(1, 3), ['clear username', 'clear password'])
  t.same(argv.slice(3, 8), [
    'echo Booting your Fedora 29 disk',
    'set username alice',
    `set password ${secret}`,
    `sanboot iscsi:127.0.0.1::${env.tgtd.port}:1:iqn.edu.example.server-01:fc29-alice`,
    'goto iscsi-cow_clear',
  ])
  t.same(argv.slice(8, 11), ['clear username', 'clear password', 'goto bp_failed'], 'a failed sanboot clears the credentials')
  t.ok(labels.includes('iscsi-cow_clear'))
  const url = `iscsi://alice%${secret}@127.0.0.1:${env.tgtd.port}/iqn.edu.example.server-01:fc29-alice/1`
  t.ok((await iscsiInq(url)).ok, 'the rendered credentials log in')

  const again = await bp.app.inject('/boot?mac=52:54:00:12:34:56&instance=fc29&username=alice&password=pw-alice')
  t.not(again.body, res.body, 'the same request again is prepared again: a new secret, never a cached script')
  t.notOk((await iscsiInq(url)).ok, 'and the first secret is dead')

  const kernel = await bp.app.inject('/boot?mac=52:54:00:12:34:56&how=kernel&username=bob&password=pw-bob')
  const kc = parseScript(kernel.body).commands.map((c) => c.argv)
  const k = kc.find((c) => c[0] === 'kernel')!
  const ks = k
    .find((a) => a.startsWith('netroot='))!
    .split(':')[2]!
    .split('@')[0]!
  t.same(
    k,
    [
      'kernel',
      'file:///linux/vmlinuz-4.19.5-300.fc29.x86_64',
      'rw',
      'ip=dhcp',
      'rd.peerdns=0',
      `netroot=iscsi:bob:${ks}@127.0.0.1::${env.tgtd.port}:1:iqn.edu.example.server-01:fc29-bob`,
      `root=/dev/disk/by-path/ip-127.0.0.1:${env.tgtd.port}-iscsi-iqn.edu.example.server-01:fc29-bob-lun-1`,
      'initrd=initramfs-4.19.5-300.fc29.x86_64.img',
    ],
    "seed 000's kernel line with the user's target and secret",
  )
  t.same(
    kc.find((c) => c[0] === 'initrd'),
    ['initrd', '--name', 'initramfs-4.19.5-300.fc29.x86_64.img', 'file:///linux/initramfs-4.19.5-300.fc29.x86_64.img'],
  )
  t.ok((await qemuIo(`iscsi://bob%${ks}@127.0.0.1:${env.tgtd.port}/iqn.edu.example.server-01:fc29-bob/1`, 'read -P 0 0 4k')).ok)

  const wrong = await bp.app.inject('/boot?mac=52:54:00:12:34:56&username=carol&password=nope')
  t.match(wrong.body, /login/, 'a refused login provisions nothing')

  const text = logs.lines.join('\n')
  for (const s of [secret!, ks, 'pw-alice', 'pw-bob']) t.notOk(text.includes(s), `the log never holds ${s.startsWith('pw') ? 'the password' : 'a CHAP secret'}`)
  const decisions = logs.records().filter((r) => r.msg === 'decision')
  t.ok(
    decisions.some((r) => (r.decision as { kind: string }).kind === 'iscsi-cow.disk'),
    'the decision record names the kind',
  )
  t.ok(logs.records().some((r) => r.msg === 'iscsi disk ready' && r.user === 'alice'))
})

t.test('refusals end in the failsafe script: no principal, a user name tgt cannot take, a policy setting target', async (t) => {
  const env = await iscsiEnv()
  t.teardown(() => env.cleanup())
  const dir = tempPolicies({
    '50-p.ts': `import { iscsiCow } from 'bootpolicy/plugins/iscsi-cow'\nexport default (ctx: any) => ctx.params.forge ? { ...iscsiCow({ image: 'fc29' }), target: { chapSecret: 'x' } } : ctx.params.img ? iscsiCow({ image: ctx.params.img }) : iscsiCow({ image: 'fc29' })`,
  })
  t.teardown(() => dir.remove())
  const stub = join(dir.dir, 'stub-auth.mjs')
  writeFileSync(
    stub,
    `export default () => ({ name: 'stub-auth', version: '1.0.0', bootpolicy: '^0.1.0', hooks: { authenticate: async (ctx, c) => ({ principal: { name: c.username, groups: [], source: '' } }) } })\n`,
  )
  const config = dir.config({
    stateDir: join(env.dir, 'var'),
    plugins: [
      { name: 'stub-auth', path: stub },
      { name: 'iscsi-cow', path: indexFile, options: env.options },
    ],
  })
  env.track(join(env.dir, 'var', 'plugins', 'iscsi-cow'), config.state)
  const bp = await build(config, { logger: captureLogs('error').logger })
  t.teardown(() => bp.close())
  t.match((await bp.app.inject('/boot')).body, /bootpolicy: BP_ERR_PLUGIN_HOOK/, 'no principal')
  t.match((await bp.app.inject('/boot?username=Alice_X&password=x')).body, /bootpolicy: BP_ERR_PLUGIN_HOOK/, 'user name refused')
  t.match((await bp.app.inject('/boot?username=alice&password=x&forge=1')).body, /BP_ERR_POLICY_BAD_DECISION/, 'a policy cannot set target')
  t.match((await bp.app.inject('/boot?username=alice&password=x&img=fc30')).body, /BP_ERR_POLICY_BAD_DECISION/, 'an unknown image is a bad decision')
  t.same(await env.tgtd.tgtadm('--mode', 'target', '--op', 'show'), '', 'nothing was provisioned')
})
