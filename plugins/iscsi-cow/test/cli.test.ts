/** bootpolicy iscsi list / reset (the plugin's own command) against a real tgtd, through core/cli/main.ts with a config file. */
import t from 'tap'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { openIscsiCow } from '../index.js'
import { createLogger } from '../../../core/log/logger.js'
import { iscsiEnv, iscsiInq, iscsiUrl, runCli as cli } from './helpers.js'

t.test('list, reset, reset --device, reset --discard', async (t) => {
  const env = await iscsiEnv()
  t.teardown(() => env.cleanup())
  const configFile = join(env.dir, 'bootpolicy.json')
  writeFileSync(configFile, JSON.stringify({ stateDir: join(env.dir, 'var'), log: { level: 'silent' }, plugins: [{ name: 'iscsi-cow', options: env.options }] }))
  const stateDir = join(env.dir, 'var', 'plugins', 'iscsi-cow')
  env.track(stateDir)
  const p = openIscsiCow(env.options, { baseDir: env.dir, stateDir, logger: createLogger('silent') })
  const alice = await p.attach('fc29', 'alice')
  await p.attach('fc29', 'bob')

  const list = await cli('iscsi', 'list', '--config', configFile, '--format', 'json')
  t.equal(list.code, 0, list.err)
  const disks = JSON.parse(list.out) as { user: string; tid: number; deviceUp: boolean; overlayBytes: number }[]
  t.same(
    disks.map((d) => [d.user, d.deviceUp]),
    [
      ['alice', true],
      ['bob', true],
    ],
  )
  t.ok(disks.every((d) => d.overlayBytes < 1 << 20))
  const text = await cli('iscsi', 'list', '--config', configFile)
  t.match(text.out, /fc29 +alice +1 +0 +up .* iqn\.edu\.example\.server-01:fc29-alice/)

  const reset = await cli('iscsi', 'reset', 'fc29', 'alice', '--config', configFile)
  t.equal(reset.out, 'fc29/alice: target removed\n')
  t.notOk((await iscsiInq(iscsiUrl(alice))).ok, 'no target, no login')
  const overlay = p.backend.paths('fc29', 'alice').overlay
  t.ok(existsSync(overlay), 'the overlay is kept')
  t.match((await cli('iscsi', 'reset', '--device', 'fc29', 'alice', '--config', configFile)).err, /put --device and --discard after/)
  const device = await cli('iscsi', 'reset', 'fc29', 'alice', '--device', '--config', configFile)
  t.equal(device.out, 'fc29/alice: target was not there, device stopped\n')
  t.notOk(await p.backend.deviceUp('fc29', 'alice'))
  const back = await p.attach('fc29', 'alice')
  t.ok((await iscsiInq(iscsiUrl(back))).ok, 'the next login brings everything back')
  const discard = await cli('iscsi', 'reset', 'fc29', 'alice', '--discard', '--config', configFile)
  t.equal(discard.out, 'fc29/alice: target removed, device stopped, overlay deleted (a fresh copy at the next login)\n')
  t.notOk(existsSync(overlay))
  t.same(
    JSON.parse((await cli('iscsi', 'list', '--config', configFile, '--format', 'json')).out).map((d: { user: string }) => d.user),
    ['bob'],
  )

  const bad = await cli('iscsi', 'reset', 'fc29', '--config', configFile)
  t.equal(bad.code, 2)
  t.match(bad.err, /BP_ERR_CLI_USAGE: .*usage: bootpolicy iscsi reset/)
  const badUser = await cli('iscsi', 'reset', 'fc29', 'Bob', '--config', configFile)
  t.match(badUser.err, /BP_ERR_ISCSI_NAME/)
  const noPlugin = join(env.dir, 'none.json')
  writeFileSync(noPlugin, JSON.stringify({ log: { level: 'silent' } }))
  // Core knows no plugin by name: without the plugin configured there is no such command.
  const none = await cli('iscsi', 'list', '--config', noPlugin)
  t.equal(none.code, 2)
  t.match(none.err, /BP_ERR_CLI_USAGE: unknown command "iscsi"/)
  const help = await cli('iscsi', '--help', '--config', configFile)
  t.match(help.out, /^Usage: bootpolicy iscsi list \| show INSTANCE USER \| reset INSTANCE USER \[--device\] \[--discard\] \[--config FILE\]/)
  t.match(help.out, /\(plugin iscsi-cow\)/)
  const overview = await cli('help', '--config', configFile)
  t.match(overview.out, /Plugin commands \(from the configured plugins\):\n {2}iscsi list \| show INSTANCE USER \| reset INSTANCE USER/)
  t.notMatch((await cli('help', '--config', noPlugin)).out, /Plugin commands/)
})
