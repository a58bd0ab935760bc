import t from 'tap'
import { serveForCli } from '../../helpers/cli-server.js'
import { runCliAsync } from '../../helpers/site-dir.js'

const ADMIN = 'cli-machines-admin-token-0123456789'
t.setTimeout(300_000)

t.test('machines and timeline, text and json; hostile bytes are made terminal-safe; errors exit 1', async (t) => {
  const { bp, dir, address, run } = await serveForCli(t, ADMIN)

  const MAC = '52:54:00:ab:00:01'
  // 1,200 events in a ring of 64, and 1,100 machines: both commands must follow the pages.
  for (let i = 0; i < 1100; i++) bp.runtime.timeline.record({ mac: `52:54:00:ff:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}` }, 'dhcp', 'DISCOVER')
  const boot = await bp.app.inject(`/boot?mac=${MAC}&buildarch=x86_64&platform=pcbios&hostname=web-01`)
  t.equal(boot.statusCode, 200)
  bp.runtime.timeline.record({ mac: MAC }, 'dhcp', 'DISCOVER', { userClass: 'evil\u001b]0;pwned\u0007' })

  const list = await run('machines', '--format', 'json')
  t.equal(list.code, 0, list.err)
  const machines = JSON.parse(list.out).machines
  t.equal(machines.length, bp.runtime.timeline.size, 'every page was fetched')
  t.equal(machines[0].id, MAC)
  t.equal(machines[0].lastDecision.kind, 'exit')
  const text = await run('machines')
  t.equal(text.code, 0, text.err)
  t.match(text.out, /^\d+ machine\(s\), most recently seen first:\n {2}52:54:00:ab:00:01 {2}booting {2}last seen \S+ {2}exit by policy:p\.ts@[0-9a-f]{12} {2}no intent {2}ip 127\.0\.0\.1 {2}web-01\n/)

  const json = await run('timeline', '52-54-00-AB-00-01', '--format', 'json')
  t.equal(json.code, 0, json.err)
  const got = JSON.parse(json.out)
  t.same(
    got.events.map((e: { type: string }) => e.type),
    ['decision', 'DISCOVER'],
  )
  const human = await run('timeline', MAC)
  t.equal(human.code, 0)
  t.match(human.out, /http decision {2}kind=exit decidedBy=policy:p\.ts rev=[0-9a-f]{12} trace=p\.ts:decided/)
  t.notOk(/[\u0000-\u0008\u000b-\u001f\u007f]/.test(human.out), 'no control characters reach the terminal')

  const unknown = await run('timeline', '52:54:00:00:00:99')
  t.equal(unknown.code, 1)
  t.match(unknown.err, /BP_ERR_MACHINE_NOT_FOUND/)
  const noArg = await run('timeline')
  t.equal(noArg.code, 2)
  t.match(noArg.err, /usage: bootpolicy timeline <MAC>/)
  const wrong = await runCliAsync(['machines', '--server', address], dir, { BOOTPOLICY_ADMIN_TOKEN: 'wrong-token' })
  t.equal(wrong.code, 1)
  t.match(wrong.err, /BP_ERR_HTTP_UNAUTHORIZED/)
})
