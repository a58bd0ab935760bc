/**
 * pxelinux-cfg with PostgreSQL down (pg_ctl stop -m immediate): a /boot whose generated file must
 * be shared (another replica may answer the client's TFTP request) gets bootpolicy's retry
 * failsafe, not a `chain lpxelinux.0` to a file no other replica has; a pure policy keeps
 * answering; a parallel burst; one error line, `what="boot"` per refused boot. Database back: the
 * file is generated and shared, without a restart.
 */
import t from 'tap'
import { build } from '../../../core/http/build-app.js'
import type { PostgresStateBackend } from '../../../core/state/postgres-backend.js'
import { captureLogs } from '../../../test/helpers/log-capture.js'
import { tempPolicies } from '../../../test/helpers/policy-dir.js'
import { createDatabase } from '../../../test/helpers/postgres.js'
import { pgBackend } from '../../../test/helpers/state-backends.js'
import { STATE_FAILSAFE_LOG, assertStateFailsafe, refusedBoots, waitFor } from '../../../test/helpers/state-outage.js'

t.setTimeout(300_000)

const MAC = '52:54:00:12:35:01'
const POLICY = `import { pxelinuxChain } from 'bootpolicy/plugins/pxelinux-cfg'
export default (ctx: any) => ctx.hostname === 'pure' ? { kind: 'exit' } : pxelinuxChain({ entries: [{ label: 'l', kernel: 'vmlinuz-' + (ctx.params.v ?? 'a') }] })`

t.test('database down: the shared file cannot be written, the boot retries; back: generated and shared', async (t) => {
  const db = await createDatabase(t)
  const dir = tempPolicies({ 'p.ts': POLICY })
  t.teardown(() => dir.remove())
  const state = (await pgBackend(t, db)) as PostgresStateBackend
  const logs = captureLogs('info')
  const bp = await build(dir.config({ plugins: [{ name: 'pxelinux-cfg', options: {} }] }), { state, logger: logs.logger })
  t.teardown(() => bp.close())
  const boot = (v: string, remoteAddress = '192.0.2.70', more = '') => bp.app.inject({ url: `/boot?mac=${MAC}&v=${v}${more}`, remoteAddress })

  t.match((await boot('a')).body, /chain .*lpxelinux\.0/, 'up: the pxelinux chain')
  t.match((await state.get<{ text: string }>('pxelinux-cfg/peer/192.0.2.70'))!.value.text, /vmlinuz-a/)

  await db.cluster.stop('immediate')
  t.teardown(() => (db.cluster.running ? undefined : db.cluster.start()))
  await waitFor('the change listener to notice', () => !state.listening)

  const down = await boot('b')
  t.equal(down.statusCode, 200)
  t.equal(down.headers['cache-control'], 'no-store')
  assertStateFailsafe(t, down.body, MAC)
  t.notMatch(down.body, /lpxelinux/, 'no chain to a file the other replicas do not have')
  t.equal((await boot('x', '192.0.2.70', '&hostname=pure')).body.includes('exit'), true, 'a pure policy keeps answering')

  const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => boot('c', `192.0.2.${100 + i}`)))
  t.same(
    burst.map((r) => r.body.includes(':bp_state_retry')),
    Array(20).fill(true),
    'a parallel burst: every one refused',
  )
  t.equal(refusedBoots(bp.metrics), 21, 'what="boot" counts each refused boot')
  t.equal(logs.records().filter((l) => l.msg === STATE_FAILSAFE_LOG).length, 1, 'one error line for the outage')
  t.equal(logs.records().filter((l) => l.msg === 'plugin hook failed' && l.level === 40).length, 0, 'no warning per boot')

  await db.cluster.start()
  await waitFor('the boot to be decided again', async () => /lpxelinux\.0/.test((await boot('b')).body))
  t.match((await state.get<{ text: string }>('pxelinux-cfg/peer/192.0.2.70'))!.value.text, /vmlinuz-b/, 'the new file is shared')
})
