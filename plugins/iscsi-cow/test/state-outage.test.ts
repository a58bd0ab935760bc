/**
 * iscsi-cow with PostgreSQL lost between a login and its provisioning (real tgtd, real database
 * stopped with pg_ctl stop -m immediate from inside the stub authenticate hook: the one moment
 * a /boot reaches provisioning with the database gone, since logins themselves fail closed while
 * it is down): the boot gets bootpolicy's retry failsafe, not the default and not a disk; no
 * target is made; one error line, `what="boot"`. Database back, the same login gets its disk,
 * without a restart.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { build } from '../../../core/http/build-app.js'
import type { PostgresStateBackend } from '../../../core/state/postgres-backend.js'
import { captureLogs } from '../../../test/helpers/log-capture.js'
import { tempPolicies } from '../../../test/helpers/policy-dir.js'
import { createDatabase } from '../../../test/helpers/postgres.js'
import { pgBackend } from '../../../test/helpers/state-backends.js'
import { STATE_FAILSAFE_LOG, assertStateFailsafe, refusedBoots, waitFor } from '../../../test/helpers/state-outage.js'
import { openIscsiCow } from '../index.js'
import { iscsiEnv } from './helpers.js'

t.setTimeout(300_000)

const indexFile = fileURLToPath(new URL('../index.ts', import.meta.url))
const MAC = '52:54:00:12:36:01'
const POLICY = `
import { login } from 'bootpolicy/policy'
import { iscsiCow } from 'bootpolicy/plugins/iscsi-cow'
export default (ctx: any) => (ctx.auth.status !== 'authenticated' ? login({ params: { instance: 'fc29' } }) : iscsiCow({ image: 'fc29' }))
`
const HOOK = '__bpTestStopDatabase'

t.test('database lost between login and provisioning: retry failsafe, no disk; back: the disk', async (t) => {
  const env = await iscsiEnv()
  let bp: Awaited<ReturnType<typeof build>> | undefined
  let stopDisks = async (): Promise<void> => undefined
  // The disks' records are in the database: stop them through it, then the app, tgtd and the files.
  t.teardown(async () => {
    await stopDisks().catch(() => undefined)
    await bp?.close()
    await env.cleanup()
  })
  const db = await createDatabase(t)
  const state = (await pgBackend(t, db)) as PostgresStateBackend
  stopDisks = async () => {
    if (!db.cluster.running) await db.cluster.start()
    await openIscsiCow(env.options, { baseDir: env.dir, stateDir: join(env.dir, 'var', 'plugins', 'iscsi-cow'), logger: captureLogs('silent').logger, state }).stopAll()
  }
  const dir = tempPolicies({ '50-disk.ts': POLICY })
  t.teardown(() => dir.remove())
  const stub = join(dir.dir, 'stub-auth.mjs')
  // Accepts pw-<user>; for a user named crash-*, first stops the database (the test's hook).
  writeFileSync(
    stub,
    `export default () => ({ name: 'stub-auth', version: '1.0.0', bootpolicy: '^0.1.0', hooks: { authenticate: async (ctx, c) => { if (c.username.startsWith('crash') && globalThis.${HOOK}) await globalThis.${HOOK}(); return c.password === 'pw-' + c.username ? { principal: { name: c.username, groups: [], source: '' } } : { failed: 'wrong password' } } } })\n`,
  )
  env.track(join(env.dir, 'var', 'plugins', 'iscsi-cow'))
  const logs = captureLogs('info')
  bp = await build(
    dir.config({
      stateDir: join(env.dir, 'var'),
      plugins: [
        { name: 'stub-auth', path: stub },
        { name: 'iscsi-cow', path: indexFile, options: env.options },
      ],
    }),
    { state, logger: logs.logger },
  )
  const app = bp.app
  const g = globalThis as Record<string, unknown>
  g[HOOK] = () => db.cluster.stop('immediate')
  t.teardown(() => {
    delete g[HOOK]
    return db.cluster.running ? undefined : db.cluster.start()
  })

  const ok = await app.inject(`/boot?mac=${MAC}&instance=fc29&username=alice&password=pw-alice`)
  t.match(ok.body, /\nsanboot /, 'up: alice gets her disk')

  const down = await app.inject(`/boot?mac=${MAC}&instance=fc29&username=crashy&password=pw-crashy`)
  t.equal(down.statusCode, 200)
  const retry = assertStateFailsafe(t, down.body, MAC)
  t.notMatch(down.body, /sanboot|pw-crashy/, 'no disk')
  t.notMatch(retry, /username|password/, 'no credentials in the retry URL: the login is asked again')
  t.equal(refusedBoots(bp.metrics), 1)
  t.equal(logs.records().filter((l) => l.msg === STATE_FAILSAFE_LOG).length, 1, 'one error line')
  t.notMatch(logs.lines.join('\n'), /pw-crashy|pw-alice/, 'no password in the log')

  delete g[HOOK]
  await db.cluster.start()
  await waitFor('crashy to get the disk', async () => /\nsanboot /.test((await app.inject(`/boot?mac=${MAC}&instance=fc29&username=crashy&password=pw-crashy`)).body))
  t.ok(await state.get('iscsi-cow/users/fc29/crashy'), 'the record is in the database once it is back')
  await stopDisks()
  stopDisks = async () => undefined
})
