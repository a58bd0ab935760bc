/**
 * Intents and installer callbacks on real iPXE (BIOS) in QEMU, three machines booting in parallel:
 * - armed → boots the payload with a token on its kernel line → the payload (busybox) POSTs
 *   `built` with it (wget) → the intent is consumed → the next boot of that machine exits to disk;
 * - the payload says `failed`: the intent stays, with the reason;
 * - the intent expires before the payload's (delayed) callback: the callback is refused, the
 *   intent ends "expired before callback" (BPWRN011) and the next boot exits to disk.
 * Each machine's timeline (GET /api/machines/<MAC>/timeline) must then show, in order: the DHCP ACK,
 * /boot.ipxe, /boot with the decision's kind, policy and trace, the kernel and initrd downloads
 * completed, and the callback (or the expiry), then the exit decision of the next boot.
 * The payload's callback (bp.cb=URL, bp.token, bp.reason, bp.delay) is in test/helpers/boot-payload.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { buildBootPayload, PAYLOAD_MARKER } from '../helpers/boot-payload.js'
import { type BootpolicyServer, bootToMarkerTolerant, payloadArgList, serverTail, startBootpolicy } from '../helpers/e2e-bootpolicy.js'
import { createTestNet, type TestNet } from '../helpers/e2e-net.js'
import { BOOT_FAILURES, startQemu } from '../helpers/qemu.js'
import { type EventStep, missingStep, type TimelineEventLike } from '../helpers/timeline-order.js'

t.setTimeout(900_000)
const ADMIN = 'e2e-intents-admin-token-0123456789'
const EXIT_MESSAGE = 'bootpolicy: no intent, local disk'
const machines = { built: '52:54:00:e2:14:01', failed: '52:54:00:e2:14:02', expired: '52:54:00:e2:14:03' }
/**
 * The slow machine is armed once its iPXE starts (so that a loaded box's slow VM start cannot
 * expire it before its boot), for EXPIRES_S; its payload waits DELAY_S before calling back. Its
 * iPXE is held at its "Press Ctrl-B" prompt (not answered: iPXE waits there ~2 s) while the intent
 * is armed: armed on "initialising devices" instead, a loaded run saw iPXE's /boot 40 ms before the
 * arming request completed, and the machine went to its local disk.
 */
const DELAY_S = 120
const EXPIRES_S = 60

t.test('intents on real iPXE: built consumes, failed keeps the reason, expiry reverts to local disk', async (t) => {
  const payload = await buildBootPayload()
  const net = await createTestNet()
  t.teardown(() => net.close({ keepLogs: !t.passing() }))
  const policies = mkdtempSync(join(tmpdir(), 'bp-e2e-intents-'))
  t.teardown(() => rmSync(policies, { recursive: true, force: true }))
  const args = payloadArgList(payload)
  writeFileSync(
    join(policies, '10-intents.ts'),
    `import { boot, exit, INTENT_TOKEN, policy } from 'bootpolicy/policy'
const base = ${JSON.stringify(args)}
export default policy((ctx) => {
  const profile = ctx.intent?.profile
  if (!profile) return exit(${JSON.stringify(EXIT_MESSAGE)})
  const outcome = profile === 'fail' ? 'failed' : 'built'
  const extra = profile === 'fail' ? ['bp.reason=disk-missing'] : profile === 'slow' ? ['bp.delay=${DELAY_S}'] : []
  return boot('/files/vmlinuz', { initrds: ['/files/initrd.gz'], args: [...base, 'bp.cb=http://${net.serverIp}:8080/api/callback/' + outcome, 'bp.token=' + INTENT_TOKEN, ...extra] })
})
`,
  )
  const server = await startBootpolicy({ net, scenario: 'intents', policiesDir: policies, payload, tftpFiles: [], config: { http: { adminToken: ADMIN } }, readyTimeoutMs: 180_000 })
  t.teardown(() => {
    if (!t.passing()) t.comment(serverTail(server))
  })
  const api = apiOf(net, server)

  const armed = await Promise.all([
    api('PUT', '/api/intents', { machine: `mac:${machines.built}`, profile: 'build', expiresInS: 3600, note: 'e2e built' }),
    api('PUT', '/api/intents', { machine: `mac:${machines.failed}`, profile: 'fail', expiresInS: 3600 }),
  ])
  t.same(
    armed.map((a) => (a.intent as { state: string }).state),
    ['armed', 'armed'],
  )

  await Promise.all([
    t.test('built: the payload calls back with its token; the next boot goes to local disk', async (t) => {
      const first = await bootToMarkerTolerant({ net, firmware: 'bios', mac: machines.built, name: 'qemu-built', timeoutMs: 300_000 })
      const token = /bp\.token=([0-9a-f]+)/.exec(first.report.cmdline)?.[1]
      t.match(token, /^[0-9a-f]{40}$/, 'the kernel line carried a 160-bit token')
      const cb = callbackLine(first.log)
      t.equal(cb?.rc, '0', `wget succeeded: ${cb?.answer}`)
      // The answer as the guest printed it: only its outcome (the serial console of a loaded host
      // drops characters, once mid-JSON); the API below asserts the intent itself.
      t.match(cb?.answer, /"outcome":\s*"built"/, 'the payload was told: built')
      await bootsLocalDisk(t, net, machines.built, 'qemu-built-2')
      const list = await api('GET', '/api/intents')
      t.match(endedFor(list, machines.built), { outcome: 'built', endedBy: 'installer', note: 'e2e built' })
      const [d1, d2] = server.decisionsFor(machines.built)
      t.match(d1, { kind: 'boot', context: { intent: { profile: 'build' } } })
      t.match(d2, { kind: 'exit' })
      t.notOk(d2 && 'intent' in d2.context, 'the second boot saw no intent')
      t.notOk(server.process.output().includes(token!), 'the token is in no server log line')
      const events = await timelineOf(api, machines.built)
      t.equal(missingStep(events, [...installerBoot, { source: 'callback', type: 'built' }, ...localDiskBoot]), undefined, 'timeline in order')
      t.equal(
        missingStep(events, [
          { source: 'intent', type: 'armed' },
          { source: 'intent', type: 'installer-boot' },
          { source: 'callback', type: 'built' },
        ]),
        undefined,
        'intent events in order',
      )
      t.notOk(JSON.stringify(events).includes(token!), 'the token is in no timeline event')
    }),
    t.test('failed: the intent stays with the reason', async (t) => {
      const boot = await bootToMarkerTolerant({ net, firmware: 'bios', mac: machines.failed, name: 'qemu-failed', timeoutMs: 300_000 })
      const cb = callbackLine(boot.log)
      t.equal(cb?.rc, '0', `wget succeeded: ${cb?.answer}`)
      t.match(cb?.answer, /"outcome":\s*"failed"/, 'the payload was told: failed (the API below asserts the reason)')
      const list = await api('GET', '/api/intents')
      const active = (list.active as { machine: string }[]).find((i) => i.machine === `mac:${machines.failed}`)
      t.match(active, { state: 'failed', failure: { reason: 'disk-missing' }, tokensIssued: 1 })
      const events = await timelineOf(api, machines.failed)
      t.equal(missingStep(events, [...installerBoot, { source: 'callback', type: 'failed', fields: { reason: 'disk-missing' } }]), undefined, 'timeline in order')
    }),
    t.test('expired: the late callback is refused, the expiry is recorded, the next boot goes to local disk', async (t) => {
      const vm = await startQemu({ net, firmware: 'bios', mac: machines.expired, name: 'qemu-expired', skipIpxePrompt: false })
      let log: string
      try {
        await vm.waitFor(/Press Ctrl-B for the iPXE command line/, 300_000)
        await api('PUT', '/api/intents', { machine: `mac:${machines.expired}`, profile: 'slow', expiresInS: EXPIRES_S })
        t.notMatch(vm.log(), /Configuring \(net0/, 'armed while iPXE still waited at its prompt')
        await vm.waitFor(new RegExp(PAYLOAD_MARKER), 500_000, { failOn: BOOT_FAILURES })
        log = vm.log()
      } finally {
        await vm.stop()
      }
      t.match(server.decisionsFor(machines.expired)[0], { kind: 'boot', context: { intent: { profile: 'slow' } } }, 'it booted under the intent')
      const cb = callbackLine(log)
      t.not(cb?.rc, '0', `the callback was refused: ${cb?.answer}`)
      t.match(cb?.answer, /40[3]|410/, 'HTTP 403 (or 410 before the sweep)')
      const list = await api('GET', '/api/intents')
      t.match(endedFor(list, machines.expired), { outcome: 'expired', reason: 'expired before callback', endedBy: 'expiry' })
      t.ok(
        server.logLines().some((l) => l.code === 'BPWRN011'),
        'BPWRN011 logged',
      )
      await bootsLocalDisk(t, net, machines.expired, 'qemu-expired-2')
      const events = await timelineOf(api, machines.expired)
      const expiry = { source: 'intent', type: 'intent-expired', fields: { reason: 'expired before callback', endedBy: 'expiry' } }
      t.equal(missingStep(events, [{ source: 'intent', type: 'armed' }, ...installerBoot, expiry, ...localDiskBoot]), undefined, 'timeline in order')
    }),
  ])
  const metrics = await net.exec('curl', ['-s', `${server.url}/metrics`])
  t.match(metrics, /bootpolicy_intents_total\{event="consumed"\} 1/)
  t.match(metrics, /bootpolicy_intents_total\{event="failed"\} 1/)
  t.match(metrics, /bootpolicy_intents_total\{event="expired"\} 1/)
})

function apiOf(net: TestNet, server: BootpolicyServer) {
  return async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const out = await net.exec('curl', [
      '-s',
      '-X',
      method,
      '-H',
      `authorization: Bearer ${ADMIN}`,
      ...(body ? ['-H', 'content-type: application/json', '-d', JSON.stringify(body)] : []),
      `${server.url}${path}`,
    ])
    return JSON.parse(out) as Record<string, unknown>
  }
}

/** One boot under the intent, as the timeline must show it. */
const installerBoot: EventStep[] = [
  { source: 'dhcp', type: 'ACK' },
  { source: 'http', type: 'bootstrap', fields: { path: '/boot.ipxe' } },
  { source: 'http', type: 'decision', fields: { kind: 'boot', decidedBy: /^policy:10-intents/, trace: /^10-intents\S*:decided$/, intent: /./ } },
  { source: 'files', type: 'download', fields: { file: /vmlinuz$/, completed: true } },
  { source: 'files', type: 'download', fields: { file: /initrd\.gz$/, completed: true } },
]
/** The next boot, after the intent ended: DHCP again, then the exit decision. */
const localDiskBoot: EventStep[] = [
  { source: 'dhcp', type: 'ACK' },
  { source: 'http', type: 'bootstrap' },
  { source: 'http', type: 'decision', fields: { kind: 'exit', decidedBy: /^policy:10-intents/ } },
]

async function timelineOf(api: ReturnType<typeof apiOf>, mac: string): Promise<TimelineEventLike[]> {
  const page = await api('GET', `/api/machines/${mac}/timeline?limit=1000`)
  return (page.events ?? []) as TimelineEventLike[]
}

function callbackLine(log: string): { rc: string; answer: string } | undefined {
  const m = /BOOTPOLICY-E2E-CALLBACK rc=(\d+) ?(.*)/.exec(log)
  return m ? { rc: m[1]!, answer: m[2]!.trim() } : undefined
}

function endedFor(list: Record<string, unknown>, mac: string): unknown {
  return (list.ended as { machine: string }[]).find((i) => i.machine === `mac:${mac}`)
}

/** The machine's next boot: iPXE prints the policy's exit message and SeaBIOS moves on (QEMU exits: -no-reboot). */
async function bootsLocalDisk(t: Test, net: TestNet, mac: string, name: string): Promise<void> {
  const vm = await startQemu({ net, firmware: 'bios', mac, name })
  try {
    await vm.waitFor(/No bootable device/, 300_000, { failOn: new RegExp(PAYLOAD_MARKER) })
    t.ok(vm.log().includes(EXIT_MESSAGE), 'iPXE printed the exit message, then the firmware moved on to the local disk')
  } finally {
    await vm.stop()
  }
}
