/**
 * docs/guides/migrate-mojolicious-pam-iscsi.md (seed 000 part 4), its per-user disk section as
 * written: the guide's config, its two alternative auth plugin entries and its SAN-boot policy are
 * the fixture (test/helpers/guide-fixture.ts). One backend after the other, each with its own tgtd
 * and bootpolicy in one namespace (BIOS, real iPXE):
 *   - Kerberos: the guide's auth-kerberos entry against a real MIT KDC (kdc.ts), keytab-verified;
 *   - PAM: the guide's auth-pam entry, a real local user with a private /etc/pam.d service;
 *   - LDAP: the guide's ldap entry (ldaps, CA file, bindDn) against a real slapd (slapd.ts).
 * Machine 1 presses `2` (Fedora 29) in the seed's menu, types the user and a WRONG password into
 * iPXE's login form: the menu comes back with `Login failed`, and the user still has no overlay
 * and no target. It presses `2` again and logs in: iscsi-cow creates the user's qcow2 overlay of
 * fc29.img, tgtd exports it with a fresh CHAP secret, iPXE SAN-boots it; the disk's boot sector
 * (e2e-bootsector.ts) reads LBA 1 over iSCSI, prints the counter (0) and writes it back
 * incremented. Machine 2, same user: a new login, the same overlay, and it prints BOOTS=1.
 *
 * Changed from the guide, only in the config (test plumbing, each said in the guide too): HTTP on
 * 8080 instead of HTTPS on 443 (Debian's 2019 iPXE trusts only iPXE's CA: PLATFORM-NOTES), the
 * test's addresses, realm, keytab and CA, the qcow2 backend (no device-mapper here), tgtd's own
 * control port, and a DHCP section (the seed has its own DHCP server).
 * The KDC and slapd run on the host's loopback; e2e-forward.ts carries their TCP ports into the
 * namespace. UEFI, all three backends with the write-back: guide-mojolicious-pam-iscsi-uefi.test.ts.
 */
import { randomBytes, createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import t from 'tap'
import { buildBootPayload, PAYLOAD_MARKER } from '../helpers/boot-payload.js'
import { SECTOR_BOOTS, SECTOR_FAIL, SECTOR_WRITTEN, sectorRanAfter, writeCounterDisk } from '../helpers/e2e-bootsector.js'
import { REPO_ROOT, serverTail } from '../helpers/e2e-bootpolicy.js'
import { forwardLoopbackIntoNet } from '../helpers/e2e-forward.js'
import { startGuideBootpolicy } from '../helpers/e2e-guide.js'
import { typeLogin } from '../helpers/e2e-login.js'
import { createTestNet } from '../helpers/e2e-net.js'
import { requireCommand } from '../helpers/e2e-require.js'
import { startNetTgtd } from '../helpers/e2e-tgtd.js'
import { startKdc } from '../helpers/kdc.js'
import { createPamUser } from '../helpers/pam-user.js'
import { BOOT_FAILURES, startQemu } from '../helpers/qemu.js'
import { BASE_DN, startSlapd } from '../helpers/slapd.js'
import { requireTools } from '../helpers/tgtd.js'

// Real components (QEMU under TCG, namespaces, servers) on a loaded 2-core CI host: well past tap's 120 s per file (package.json).
t.setTimeout(600_000)

const GUIDE = resolve(REPO_ROOT, 'docs/guides/migrate-mojolicious-pam-iscsi.md')
const HOST = 'e2e.bootpolicy.test' // reversed into the IQN
const failOn = new RegExp(`${BOOT_FAILURES.source}|${SECTOR_FAIL}|Could not (?:boot|open|start)[^\\n]*\\n|${PAYLOAD_MARKER}|No bootable device`)
const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex')

type Backend = 'kerberos' | 'pam' | 'ldap'
const PLUGIN: Record<Backend, string> = { kerberos: 'auth-kerberos', pam: 'auth-pam', ldap: 'ldap' }

t.test("seed 000 guide as written: menu, login (Kerberos, PAM, LDAP), a wrong password, the user's COW disk over iSCSI with CHAP (BIOS)", async (t) => {
  requireTools('tgtd', 'tgtadm', 'qemu-img', 'qemu-storage-daemon')
  const nsenter = requireCommand('nsenter', 'util-linux')
  await buildBootPayload() // not booted here; built so that a broken payload cache fails early like every e2e test
  const net = await createTestNet()
  t.teardown(() => net.close({ keepLogs: !t.passing() }))

  const hex = (n: number): string => randomBytes(n).toString('hex')
  // Shorter than iPXE's 20-column field, with characters a URL or a shell would mangle.
  const pamUser = createPamUser({ password: `Pw &?#%'"$=+${hex(3)}` })
  t.teardown(() => pamUser.remove())
  const kdc = await startKdc()
  t.teardown(() => kdc.remove())
  const krb = { username: `krb${hex(3)}`, password: `Kb-${hex(6)}` }
  await kdc.addUser(krb.username, krb.password)
  const slapd = await startSlapd()
  t.teardown(() => slapd.remove())
  const ldapsPort = Number(new URL(slapd.ldapsUrl).port)
  for (const port of [kdc.port, ldapsPort]) {
    const stop = await forwardLoopbackIntoNet(net, port)
    t.teardown(stop)
  }
  const users: Record<Backend, { username: string; password: string }> = {
    kerberos: krb,
    pam: { username: pamUser.username, password: pamUser.password },
    ldap: { username: slapd.users.alice.uid, password: slapd.users.alice.password },
  }

  for (const [n, backend] of (['kerberos', 'pam', 'ldap'] as const).entries()) {
    await t.test(backend, async (t) => {
      const user = users[backend]
      const tgtd = await startNetTgtd(net, `tgtd-${backend}`)
      t.teardown(() => tgtd.stop())
      const site = join(net.dir, `site-${backend}`)
      mkdirSync(site, { recursive: true })
      const base = join(site, 'fc29.img')
      writeCounterDisk(base, 16) // ≥ 8 MiB: iPXE's INT 13h geometry needs ≥ 16065 sectors
      writeCounterDisk(join(site, 'fc28.img'), 16)
      const baseHash = sha256(base)
      const dataDir = join(site, 'iscsi-data')
      const server = await startGuideBootpolicy({
        net,
        guide: GUIDE,
        siteDir: site,
        name: `bootpolicy-${backend}`,
        url: `http://${net.serverIp}:8080`,
        spawnPrefix: [nsenter, `--mount=/proc/${tgtd.pid}/ns/mnt`, '--'],
        substitutions: {
          '"port": 443, "tls": { "cert": "/etc/bootpolicy/tls/server-01.example.edu.pem", "key": "/etc/bootpolicy/tls/server-01.example.edu.key" }': '"port": 8080',
          'EXAMPLE.EDU': kdc.realm,
          'HTTP@server-01.example.edu': kdc.service,
          '"keytab": "/etc/bootpolicy/http.keytab"': `"keytab": ${JSON.stringify(kdc.keytab)}, "krb5Config": ${JSON.stringify(kdc.krb5Config)}`,
          '"/fc29.img"': JSON.stringify(base),
          '"/fc28.img"': JSON.stringify(join(site, 'fc28.img')),
          '"address": "192.0.2.158"': `"address": "${net.serverIp}", "port": 3260`,
          '"hostname": "server-01.example.edu"': `"hostname": "${HOST}", "backend": "qcow2", "dataDir": ${JSON.stringify(dataDir)}, "tgtadm": { "controlPort": ${tgtd.controlPort} }`,
          '"service": "bootpolicy"': `"service": "${pamUser.service}"`,
          'ldaps://ldap.example.edu': slapd.ldapsUrl,
          '/etc/ssl/certs/example-ca.pem': slapd.caFile,
          'dc=example,dc=edu': BASE_DN,
        },
        overrides: ({ dir, config }) => {
          const [kerberos, iscsi] = config.plugins as unknown[]
          const alternative = (file: string): unknown => JSON.parse(readFileSync(join(dir, 'plugins', file), 'utf8'))
          const auth = backend === 'kerberos' ? kerberos : alternative(backend === 'pam' ? 'auth-pam.json' : 'ldap.json')
          return {
            plugins: [auth, iscsi],
            dhcp: {
              mode: 'full',
              interface: net.bridge,
              serverAddress: net.serverIp,
              pool: net.pool,
              subnetMask: net.netmask,
              leaseSeconds: 3600,
              boot: { httpPort: 8080, ipxeNoPxeDhcp: true },
            },
            tftp: { enabled: false },
          }
        },
      })
      t.teardown(async () => {
        if (!t.passing()) t.comment(serverTail(server))
        await server.stop()
      })
      t.same(server.guideFiles, ['bootpolicy.json', 'plugins/auth-pam.json', 'plugins/ldap.json', 'policies/50-fedora-disk.ts'], "the guide's blocks are the fixture")
      t.equal((server.config.plugins as { name: string }[])[0]!.name, PLUGIN[backend])

      const iqn = `iqn.test.bootpolicy.e2e:fc29-${user.username}`
      const overlay = join(dataDir, 'overlays', 'fc29', `${user.username}.qcow2`)
      const wrong = `${user.password.slice(0, -1)}${user.password.endsWith('x') ? 'y' : 'x'}`
      const macs = [`52:54:00:e2:08:${5 + n}1`, `52:54:00:e2:08:${5 + n}2`]
      let overlayIno = 0

      for (const [i, mac] of macs.entries()) {
        await t.test(`machine ${i + 1} (${mac})${i === 0 ? ': a wrong password first' : ''}, then the disk counts ${i}`, async (t) => {
          const vm = await startQemu({ net, firmware: 'bios', mac, name: `qemu-${backend}${i + 1}`, memoryMb: 128 })
          const started = performance.now()
          let log: string
          try {
            await vm.waitFor(/iPXE Boot Menu/, 120_000, { failOn })
            vm.process.write('2')
            await vm.waitFor(/Password+:/, 60_000, { failOn })
            if (i === 0) {
              await typeLogin(vm, user.username, wrong, failOn)
              const { match } = await vm.waitFor(/Login failed: [^\n]*/, 60_000, { failOn })
              t.comment(`menu says: ${match[0].trim()}`)
              t.notOk(existsSync(overlay), 'after the failed login the user has no overlay')
              t.notOk((await tgtd.tgtadm('--mode', 'target', '--op', 'show')).includes(iqn), 'and no target')
              const after = Math.max(0, vm.log().length - 8)
              vm.process.write('2')
              await vm.waitFor(/Password+:/, 60_000, { failOn, after })
            }
            await typeLogin(vm, user.username, user.password, failOn)
            await vm.waitFor(new RegExp(SECTOR_WRITTEN), 120_000, { failOn })
            log = vm.log()
          } finally {
            await vm.stop()
          }
          t.comment(`${backend} machine ${i + 1}: boot sector done ${Math.round(performance.now() - started)} ms after QEMU start`)
          t.match(log, /Booting from SAN device 0x80|Registered SAN device 0x80/, 'iPXE attached the iSCSI disk')
          t.ok(sectorRanAfter(log, /Password+:/g), "the disk's boot sector ran after the login")
          t.equal(SECTOR_BOOTS.exec(log)?.[1], String(i), `LBA 1 over iSCSI holds ${i}`)
          t.notOk(log.includes(user.password), 'the password is not echoed on the console')

          const d = server.decisionsFor(mac)
          const expected =
            i === 0
              ? [
                  ['menu', 'none'],
                  ['menu', 'failed'],
                  ['iscsi-cow.disk', 'authenticated'],
                ]
              : [
                  ['menu', 'none'],
                  ['iscsi-cow.disk', 'authenticated'],
                ]
          t.same(
            d.map((x) => [x.kind, x.context.auth.status]),
            expected,
            'the decision log: menu, (failed login → menu,) the disk',
          )
          const disk = d.at(-1)!
          t.match(disk, { decidedBy: 'policy:50-fedora-disk.ts', context: { params: { instance: 'fc29' }, auth: { principal: { name: user.username, source: PLUGIN[backend] } } } })
          t.same(
            disk.plugins.filter((p) => p.hook !== 'enrich').map((p) => [p.plugin, p.hook]),
            [
              [PLUGIN[backend], 'authenticate'],
              ['iscsi-cow', 'prepare'],
            ],
            'the backend authenticated, iscsi-cow provisioned',
          )
          if (i === 0) t.match(d[1], { context: { auth: { status: 'failed', username: user.username } } })
          const ino = statSync(overlay).ino
          if (i === 0) overlayIno = ino
          else t.equal(ino, overlayIno, 'the same overlay file as machine 1')
        })
      }

      t.match(await tgtd.tgtadm('--mode', 'target', '--op', 'show'), new RegExp(`: ${iqn.replaceAll('.', '\\.')}\\n[\\s\\S]*LUN: 1`), "tgtd exports the user's LUN 1")
      t.equal(readFileSync(base)[512], 0, "fc29.img's LBA 1 is still 0")
      t.equal(sha256(base), baseHash, "fc29.img's sha256 is unchanged")
      const logText = server.process.output()
      t.notOk(logText.includes(user.password) || logText.includes(wrong), 'neither password is in the server log')
      t.notOk(logText.includes(Buffer.from(user.password).toString('hex').match(/../g)!.join('-')), 'nor the hex form iPXE sent')
      t.same(server.problems(), [], 'no warnings or errors in the server log')
    })
  }
})
