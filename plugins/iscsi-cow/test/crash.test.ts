/**
 * kill -9 in the middle of provisioning, then a restart: no overlay is lost, the target works.
 * The child process uses a tgtadm wrapper that hangs on `logicalunit new`, so the kill lands
 * after the overlay and device exist and before the LUN is back.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { chmodSync, existsSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { iscsiEnv, iscsiUrl, qemuIo } from './helpers.js'

const child = fileURLToPath(new URL('./fixtures/provision-child.ts', import.meta.url))

t.test('kill -9 during provisioning, restart: overlays kept, targets adopted or repaired, data intact', async (t) => {
  const env = await iscsiEnv()
  t.teardown(() => env.cleanup())
  const p = env.open()
  const alice = await p.attach('fc29', 'alice')
  t.ok((await qemuIo(iscsiUrl(alice), 'write -P 0xcd 2M 64k')).ok, 'alice wrote her data')
  // alice's export dies (as after a host hiccup): her next login must restart it and replace the LUN.
  const qsd = await (p.backend as unknown as { daemonPid(i: string, u: string): Promise<number | undefined> }).daemonPid('fc29', 'alice')
  t.ok(qsd, 'her qemu-storage-daemon runs')
  process.kill(qsd!, 'SIGKILL')

  const marker = join(env.dir, 'hung')
  const wrapper = join(env.dir, 'tgtadm-hangs')
  writeFileSync(wrapper, `#!/bin/sh\ncase " $* " in *" --mode logicalunit --op new "*) touch "${marker}"; sleep 120;; esac\nexec tgtadm "$@"\n`)
  chmodSync(wrapper, 0o755)
  const optionsFile = join(env.dir, 'options.json')
  for (const user of ['alice', 'bob']) {
    writeFileSync(optionsFile, JSON.stringify({ ...env.options, tgtadm: { ...env.options.tgtadm, path: wrapper } }))
    const proc = spawn(process.execPath, ['--import', 'tsx', child, optionsFile, env.stateDir, user], { detached: true, stdio: 'ignore' })
    for (let i = 0; i < 200 && !existsSync(marker); i++) await sleep(50)
    t.ok(existsSync(marker), `${user}: the child hangs in the middle of provisioning`)
    process.kill(-proc.pid!, 'SIGKILL')
    await new Promise((r) => proc.once('exit', r))
    writeFileSync(marker, '')
    const { rmSync } = await import('node:fs')
    rmSync(marker)
  }
  t.same(readdirSync(join(env.stateDir, 'overlays', 'fc29')).sort(), ['alice.qcow2', 'bob.qcow2'], 'both overlays exist')
  const broken = await p.tgt.showTargets()
  t.notOk(
    broken.find((x) => x.name.endsWith('fc29-bob'))?.luns.some((l) => l.lun === 1),
    'bob: target without its LUN',
  )

  // Restart: a new provisioner reconciles with tgtd.
  const restarted = env.open()
  const summary = await restarted.reconcile()
  t.match(summary, { adopted: 2, skipped: 0 }, 'both targets adopted and repaired')
  const after = await restarted.tgt.showTargets()
  for (const name of ['fc29-alice', 'fc29-bob']) {
    const target = after.find((x) => x.name.endsWith(name))!
    t.ok(
      target.luns.some((l) => l.lun === 1),
      `${name}: LUN 1 back`,
    )
    t.ok(target.accounts.includes(`bp_guard_${name}`), `${name}: guard account bound`)
    t.ok(target.acl.includes('ALL'), `${name}: ACL bound`)
  }
  const again = await restarted.attach('fc29', 'alice')
  const read = await qemuIo(iscsiUrl(again), 'read -P 0xcd 2M 64k', 'read -P 0 0 4k')
  t.ok(read.ok, `alice's data survived: ${read.out}`)
  const bob = await restarted.attach('fc29', 'bob')
  t.ok((await qemuIo(iscsiUrl(bob), 'write -P 0x11 0 4k', 'read -P 0x11 0 4k')).ok, "bob's disk works")
  t.same(readdirSync(join(env.stateDir, 'locks')), [], "the dead child's locks were taken over")
})

t.test('restart with tgtd restarted too: targets recreated, locked until the next login', async (t) => {
  const env = await iscsiEnv()
  t.teardown(() => env.cleanup())
  const p = env.open()
  const first = await p.attach('fc29', 'carol')
  t.ok((await qemuIo(iscsiUrl(first), 'write -P 0x42 0 4k')).ok)
  // tgtd loses its configuration: delete the target behind the plugin's back.
  const tid = (await p.tgt.showTargets())[0]!.tid
  await env.tgtd.tgtadm('--mode', 'target', '--op', 'delete', '--force', '--tid', String(tid))
  const restarted = env.open()
  t.match(await restarted.reconcile(), { recreated: 1, adopted: 0 })
  const { iscsiInq } = await import('./helpers.js')
  t.notOk((await iscsiInq(iscsiUrl(first))).ok, 'recreated without the old secret: nobody can log in yet')
  const next = await restarted.attach('fc29', 'carol')
  t.ok((await qemuIo(iscsiUrl(next), 'read -P 0x42 0 4k')).ok, 'the next login sees her data')
})
