/**
 * Two bootpolicy replicas (A, B) on one PostgreSQL, real iPXE (BIOS, TCG) on their bridge: what one
 * replica wrote is what a machine booting through the other gets.
 * - pxelinux: machine P's /boot is answered by A, whose pxelinux-cfg `prepare` stores P's generated
 *   config in the database; A chains lpxelinux.0 from B, and lpxelinux fetches its config (and the
 *   kernel) from B, which serves A's file and boots the payload with its APPEND line.
 * - intents: an intent for machine I is armed through A's /api/intents; I boots through B (bootstrap
 *   and /boot at B), gets the intent's profile and a token, and its payload calls back to B: the
 *   intent is consumed once (A lists it ended; the token replayed at A is refused), and I's next boot
 *   through B sees no intent.
 * Steering: dnsmasq is the segment's DHCP server (both replicas run with `dhcp.mode: off`) and hands
 * each MAC the bootstrap URL of its replica; A listens on the bridge's first address, B on a second
 * one. Both replicas run in the net's namespace and reach PostgreSQL over its unix socket, which a
 * network namespace does not hide. Both logs are asserted: who answered /boot, who served which file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { buildBootPayload } from '../helpers/boot-payload.js'
import { type BootpolicyServer, bootToMarkerTolerant, payloadArgList, serverTail, startBootpolicy } from '../helpers/e2e-bootpolicy.js'
import { startDnsmasq } from '../helpers/e2e-dnsmasq.js'
import { createTestNet, type TestNet } from '../helpers/e2e-net.js'
import { requireFile } from '../helpers/e2e-require.js'
import { createDatabase } from '../helpers/postgres.js'
import { BOOT_FAILURES, startQemu } from '../helpers/qemu.js'

t.setTimeout(900_000)
const ADMIN = 'e2e-replicas-admin-token-0123456789'
const PXE_MAC = '52:54:00:e2:21:01'
const INTENT_MAC = '52:54:00:e2:21:02'
const APPEND = 'console=ttyS0 quiet panic=-1 via=pxelinux-from-replica-a'
const EXIT_MESSAGE = 'bootpolicy: no intent, local disk'
const PXELINUX_FAILURES = new RegExp(`${BOOT_FAILURES.source}|Failed to load \\S+|Boot failed: press a key|Could not find kernel image`)

/** Both replicas' policies: P chains pxelinux with a generated config; I boots the payload while it has an intent. */
function writePolicies(dir: string, args: readonly string[], replicaB: string): void {
  writeFileSync(
    join(dir, '10-pxelinux.ts'),
    `import { type BootContext, type Decision } from 'bootpolicy/policy'
import { pxelinuxChain, pxelinuxEntry } from 'bootpolicy/plugins/pxelinux-cfg'
export default function pxelinux(ctx: BootContext): Decision | undefined {
  if (ctx.mac !== ${JSON.stringify(PXE_MAC)}) return undefined
  return pxelinuxChain({ entries: [pxelinuxEntry('payload', 'vmlinuz', { initrd: 'initrd.gz', append: ${JSON.stringify(APPEND)} })] }) as unknown as Decision
}
`,
  )
  writeFileSync(
    join(dir, '20-intents.ts'),
    `import { boot, exit, INTENT_TOKEN, policy } from 'bootpolicy/policy'
const base = ${JSON.stringify(args)}
export default policy((ctx) => {
  if (ctx.mac !== ${JSON.stringify(INTENT_MAC)}) return undefined
  if (ctx.intent?.profile !== 'build') return exit(${JSON.stringify(EXIT_MESSAGE)})
  return boot('/files/vmlinuz', { initrds: ['/files/initrd.gz'], args: [...base, 'bp.cb=http://${replicaB}:8080/api/callback/built', 'bp.token=' + INTENT_TOKEN] })
})
`,
  )
}

t.test('two replicas on one PostgreSQL: real iPXE boots through B with what A wrote', async (t) => {
  const lpxelinux = requireFile('/usr/lib/PXELINUX/lpxelinux.0', 'pxelinux')
  const ldlinux = requireFile('/usr/lib/syslinux/modules/bios/ldlinux.c32', 'syslinux-common')
  const payload = await buildBootPayload()
  const db = await createDatabase(t)
  const net = await createTestNet()
  t.teardown(() => net.close({ keepLogs: !t.passing() }))
  const ipA = net.serverIp
  const ipB = net.serverIp.replace(/\.1$/, '.2')
  await net.exec('ip', ['addr', 'add', `${ipB}/24`, 'dev', net.bridge])
  const policies = mkdtempSync(join(tmpdir(), 'bp-e2e-replicas-'))
  t.teardown(() => rmSync(policies, { recursive: true, force: true }))
  writePolicies(policies, payloadArgList(payload), ipB)

  const state = { backend: 'postgres', url: `postgres://bp_test@localhost:${db.cluster.port}/${db.name}?host=${encodeURIComponent(db.cluster.socketDir)}`, passwordFile: db.passwordFile }
  const replica = (name: string, ip: string): Promise<BootpolicyServer> =>
    startBootpolicy({
      net,
      name,
      scenario: 'replicas',
      policiesDir: policies,
      payload,
      tftpFiles: [],
      extraFiles: { 'lpxelinux.0': lpxelinux, 'ldlinux.c32': ldlinux },
      readyTimeoutMs: 180_000,
      config: {
        http: { host: ip, adminToken: ADMIN },
        dhcp: { mode: 'off' },
        state,
        plugins: [{ name: 'pxelinux-cfg', options: { lpxelinuxUrl: `http://${ipB}:8080/files/lpxelinux.0`, pathPrefix: `http://${ipB}:8080/files/` } }],
      },
    })
  // One after the other: each start puts a temporary carrier port on the bridge (bridgeCarrier).
  const a = await replica('replica-a', ipA)
  const b = await replica('replica-b', ipB)
  t.teardown(() => {
    if (!t.passing()) t.comment(`${serverTail(a)}\n${serverTail(b)}`)
  })
  const urlA = `http://${ipA}:8080`
  const urlB = `http://${ipB}:8080`
  await startDnsmasq(net, {
    ipxeScriptUrl: `${urlA}/boot.ipxe`,
    // dnsmasq takes the last matching dhcp-boot line: I's iPXE is sent to B.
    extraConfig: [`dhcp-host=${INTENT_MAC},set:replicab`, `dhcp-boot=tag:ipxe,tag:replicab,${urlB}/boot.ipxe`],
  })
  const api = async (base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
    const out = await net.exec('curl', [
      '-s',
      '-w',
      '\n%{http_code}',
      '-X',
      method,
      '-H',
      `authorization: Bearer ${ADMIN}`,
      ...(body ? ['-H', 'content-type: application/json', '-d', JSON.stringify(body)] : []),
      `${base}${path}`,
    ])
    const at = out.lastIndexOf('\n')
    return { status: Number(out.slice(at + 1)), body: JSON.parse(out.slice(0, at) || '{}') as Record<string, unknown> }
  }

  const armed = await api(urlA, 'PUT', '/api/intents', { machine: `mac:${INTENT_MAC}`, profile: 'build', expiresInS: 3600, note: 'armed at A' })
  t.equal((armed.body.intent as { state?: string } | undefined)?.state, 'armed', 'the intent is armed through A')

  await Promise.all([
    t.test('pxelinux: the config A generated is what lpxelinux fetches from B and boots with', async (t) => {
      const boot = await bootToMarkerTolerant({ net, firmware: 'bios', mac: PXE_MAC, name: 'qemu-pxelinux', timeoutMs: 300_000, failOn: PXELINUX_FAILURES })
      t.comment(`marker at ${boot.markerMs} ms after QEMU start`)
      t.equal(boot.report.cmdline, `BOOT_IMAGE=vmlinuz ${APPEND} initrd=initrd.gz`, "the kernel got the APPEND line of A's generated config")
      t.match(boot.log, /PXELINUX 6\.\d+ lwIP/, 'it was lpxelinux that loaded the kernel')
      const cfg = `/files/pxelinux.cfg/01-${PXE_MAC.replaceAll(':', '-')}`
      const clientIp = requestsOf(a).find((r) => r.url.startsWith('/boot?'))?.ip
      t.same(
        requestsOf(a, clientIp).map((r) => `${r.status} ${r.url.replace(/\?.*/, '?…')}`),
        ['200 /boot.ipxe', '200 /boot?…'],
        'A answered the machine its bootstrap and /boot, nothing else',
      )
      t.same(
        requestsOf(b, clientIp).map((r) => `${r.status} ${r.url}`),
        ['200 /files/lpxelinux.0', '200 /files/ldlinux.c32', `200 ${cfg}`, '200 /files/vmlinuz', '200 /files/initrd.gz'],
        "B served lpxelinux, the config A generated, and the payload to the machine's address",
      )
      t.match(a.decisionsFor(PXE_MAC), [{ kind: 'pxelinux-cfg.chain', decidedBy: 'policy:10-pxelinux.ts', plugins: [{ plugin: 'pxelinux-cfg', hook: 'prepare' }] }], "A's prepare hook stored the file")
      t.same(b.decisionsFor(PXE_MAC), [], 'B decided nothing for this machine')
      const stored = await documentKeys(db, 'pxelinux-cfg/')
      t.same(stored, [`pxelinux-cfg/peer/${clientIp}`], 'the one stored config is in the database, keyed by the address that asked /boot')
      const other = await net.exec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `${urlB}${cfg}`])
      t.equal(other.trim(), '404', "B does not serve this machine's file to another address")
    }),
    t.test('intents: armed through A, obeyed by a boot through B, consumed once by the callback to B', async (t) => {
      const first = await bootToMarkerTolerant({ net, firmware: 'bios', mac: INTENT_MAC, name: 'qemu-intent', timeoutMs: 300_000 })
      const token = /bp\.token=([0-9a-f]+)/.exec(first.report.cmdline)?.[1]
      t.match(token, /^[0-9a-f]{40}$/, "B's answer carried the intent's token")
      const cb = /BOOTPOLICY-E2E-CALLBACK rc=(\d+) ?(.*)/.exec(first.log)
      t.equal(cb?.[1], '0', `the payload's callback to B succeeded: ${cb?.[2]}`)
      t.match(b.decisionsFor(INTENT_MAC), [{ kind: 'boot', context: { intent: { profile: 'build' } } }], 'B booted it under the intent armed at A')
      t.same(a.decisionsFor(INTENT_MAC), [], 'A decided nothing for this machine')
      t.same(
        requestsOf(b)
          .filter((r) => r.method === 'POST')
          .map((r) => `${r.status} ${r.url}`),
        ['200 /api/callback/built'],
        'the callback reached B',
      )
      const list = await api(urlA, 'GET', '/api/intents')
      const ended = (list.body.ended as { machine: string }[]).filter((i) => i.machine === `mac:${INTENT_MAC}`)
      t.match(ended, [{ outcome: 'built', endedBy: 'installer', note: 'armed at A' }], 'A lists the intent ended once, by the installer')
      t.notOk(
        (list.body.active as { machine: string }[]).some((i) => i.machine === `mac:${INTENT_MAC}`),
        'and no longer active',
      )
      const replay = await net.exec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--data', `token=${token}&mac=${INTENT_MAC}`, `${urlA}/api/callback/built`])
      t.match(replay.trim(), /^4\d\d$/, `the same token replayed at A is refused (${replay.trim()})`)
      await bootsLocalDisk(t, net, INTENT_MAC)
      t.match(b.decisionsFor(INTENT_MAC)[1], { kind: 'exit' }, "B's next answer for the machine saw no intent")
      t.notOk(a.process.output().includes(token!) || b.process.output().includes(token!), 'the token is in no log line of either replica')
    }),
  ])
  const metricsA = await net.exec('curl', ['-s', `${urlA}/metrics`])
  const metricsB = await net.exec('curl', ['-s', `${urlB}/metrics`])
  t.match(metricsB, /bootpolicy_intents_total\{event="consumed"\} 1/, 'B counted the consumption')
  t.notMatch(metricsA, /bootpolicy_intents_total\{event="consumed"\} [1-9]/, 'A did not')
  t.same(
    a.problems().map((l) => [l.msg, (l.callback as { why?: string } | undefined)?.why]),
    [['installer callback refused', 'unknown']],
    "A's only warning is the refused replay (the token is spent)",
  )
  t.same(
    b.problems().map((l) => l.msg),
    [],
    'no warnings or errors in B',
  )
})

/** HTTP requests a replica logged ('request completed', with the peer address); optionally only those from `ip`. */
function requestsOf(server: BootpolicyServer, ip?: string): { method: string; url: string; status: number; ip: string }[] {
  return server
    .logLines()
    .filter((l) => l.msg === 'request completed')
    .map((l) => {
      const req = l.req as { method: string; url: string; remoteAddress?: string }
      return { method: req.method, url: req.url, status: l.statusCode as number, ip: req.remoteAddress ?? '' }
    })
    .filter((r) => !ip || r.ip === ip)
}

async function documentKeys(db: Awaited<ReturnType<typeof createDatabase>>, prefix: string): Promise<string[]> {
  const c = await db.cluster.admin(db.name)
  try {
    const { rows } = await c.query<{ key: string }>('SELECT key FROM bp_state_documents WHERE key LIKE $1 ORDER BY key', [`${prefix}%`])
    return rows.map((r) => r.key)
  } finally {
    await c.end()
  }
}

/** The machine's next boot through B: iPXE prints the policy's exit message and SeaBIOS moves on. */
async function bootsLocalDisk(t: Test, net: TestNet, mac: string): Promise<void> {
  const vm = await startQemu({ net, firmware: 'bios', mac, name: 'qemu-intent-2' })
  try {
    await vm.waitFor(/No bootable device/, 300_000)
    t.ok(vm.log().includes(EXIT_MESSAGE), 'iPXE printed the exit message, then the firmware moved on to the local disk')
  } finally {
    await vm.stop()
  }
}
