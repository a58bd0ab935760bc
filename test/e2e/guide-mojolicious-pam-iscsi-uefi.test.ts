/**
 * docs/guides/migrate-mojolicious-pam-iscsi.md (seed 000 part 4) in UEFI, end to end: the BIOS
 * file's scenario (guide-mojolicious-pam-iscsi.test.ts) with OVMF and Debian's EFI iPXE ROM, for
 * the three login backends (Kerberos with a keytab-verified KDC, PAM, LDAP over ldaps), each in a
 * network namespace of its own so that the three run at once (t.jobs).
 *
 * The user's base disk is a GPT disk whose ESP holds GRUB as \EFI\BOOT\BOOTX64.EFI
 * (e2e-esp-disk.ts): after the login iPXE SAN-boots the user's copy-on-write iSCSI disk with the
 * CHAP secret, GRUB reads the counter in \EFI\BOOT\grubenv, prints it and writes it back
 * incremented — iSCSI WRITEs through iPXE's SAN BlockIo into the user's qcow2 overlay. Machine 1
 * first types a wrong password (the menu comes back; no overlay, no target), then logs in: it
 * prints BOOTS=0, and the host reads boots=1 through the overlay's export. Machine 2, same user:
 * BOOTS=1 on its console, boots=2 on the host. The base image's sha256 never changes.
 *
 * Config changes from the guide are the BIOS file's (test plumbing, said in the guide).
 */
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import t from 'tap'
import { REPO_ROOT, serverTail } from '../helpers/e2e-bootpolicy.js'
import { ESP_BOOTS, ESP_FAIL, ESP_HELLO, ESP_WRITTEN, buildEspCounterDisk, readEspBoots, writeEspCounterDisk } from '../helpers/e2e-esp-disk.js'
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
const HOST = 'e2e.bootpolicy.test'
const failOn = new RegExp(`${BOOT_FAILURES.source}|${ESP_FAIL.source}|Could not (?:open|start)[^\\n]*\\n|Boot from SAN device[^\\n]*failed`)
const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex')

type Backend = 'kerberos' | 'pam' | 'ldap'
const PLUGIN: Record<Backend, string> = { kerberos: 'auth-kerberos', pam: 'auth-pam', ldap: 'ldap' }

t.test("seed 000 guide in UEFI: login (Kerberos, PAM, LDAP), a wrong password, the user's COW disk over iSCSI with CHAP, GRUB on its ESP writes back", async (t) => {
  requireTools('tgtd', 'tgtadm', 'qemu-img', 'qemu-storage-daemon')
  const nsenter = requireCommand('nsenter', 'util-linux')
  buildEspCounterDisk() // once per run, before the parallel part

  const hex = (n: number): string => randomBytes(n).toString('hex')
  const pamUser = createPamUser({ password: `Pw &?#%'"$=+${hex(3)}` })
  t.teardown(() => pamUser.remove())
  const kdc = await startKdc()
  t.teardown(() => kdc.remove())
  const krb = { username: `krb${hex(3)}`, password: `Kb-${hex(6)}` }
  await kdc.addUser(krb.username, krb.password)
  const slapd = await startSlapd()
  t.teardown(() => slapd.remove())
  const ldapsPort = Number(new URL(slapd.ldapsUrl).port)
  const users: Record<Backend, { username: string; password: string }> = {
    kerberos: krb,
    pam: { username: pamUser.username, password: pamUser.password },
    ldap: { username: slapd.users.alice.uid, password: slapd.users.alice.password },
  }

  // One namespace, tgtd and bootpolicy per backend, one backend at a time: three UEFI guests under
  // TCG at once, beside the suite's other job, starved slapd's TLS handshake past the LDAP
  // plugin's 2 s connect timeout in a CI rehearsal ("authentication service unavailable").
  t.jobs = 1
  for (const [n, backend] of (['kerberos', 'pam', 'ldap'] as const).entries()) {
    t.test(backend, async (t) => {
      const user = users[backend]
      const net = await createTestNet()
      t.teardown(() => net.close({ keepLogs: !t.passing() }))
      for (const port of [kdc.port, ldapsPort]) {
        const stop = await forwardLoopbackIntoNet(net, port)
        t.teardown(stop)
      }
      const tgtd = await startNetTgtd(net, `tgtd-${backend}`)
      t.teardown(() => tgtd.stop())
      const inTgtdMounts = [nsenter, `--mount=/proc/${tgtd.pid}/ns/mnt`, '--']
      const site = join(net.dir, `site-${backend}`)
      mkdirSync(site, { recursive: true })
      const base = join(site, 'fc29.img')
      writeEspCounterDisk(base)
      writeEspCounterDisk(join(site, 'fc28.img'))
      const baseHash = sha256(base)
      const dataDir = join(site, 'iscsi-data')
      const server = await startGuideBootpolicy({
        net,
        guide: GUIDE,
        siteDir: site,
        name: `bootpolicy-${backend}`,
        url: `http://${net.serverIp}:8080`,
        spawnPrefix: inTgtdMounts,
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
      t.equal((server.config.plugins as { name: string }[])[0]!.name, PLUGIN[backend])

      const iqn = `iqn.test.bootpolicy.e2e:fc29-${user.username}`
      const overlay = join(dataDir, 'overlays', 'fc29', `${user.username}.qcow2`)
      const exported = join(dataDir, 'exports', 'fc29', `${user.username}.raw`)
      const wrong = `${user.password.slice(0, -1)}${user.password.endsWith('x') ? 'y' : 'x'}`
      const macs = [`52:54:00:e2:0e:${5 + n}1`, `52:54:00:e2:0e:${5 + n}2`]
      let overlayIno = 0

      for (const [i, mac] of macs.entries()) {
        await t.test(`UEFI machine ${i + 1} (${mac})${i === 0 ? ': a wrong password first' : ''}, then GRUB reads ${i} and writes ${i + 1}`, async (t) => {
          const vm = await startQemu({ net, firmware: 'uefi', mac, name: `qemu-${backend}${i + 1}` })
          const started = performance.now()
          let log: string
          try {
            await vm.waitFor(/iPXE Boot Menu/, 300_000, { failOn })
            vm.process.write('2')
            await vm.waitFor(/Password+:/, 120_000, { failOn })
            if (i === 0) {
              await typeLogin(vm, user.username, wrong, failOn)
              const { match } = await vm.waitFor(/Login failed: [^\n]*/, 120_000, { failOn })
              t.comment(`menu says: ${match[0].trim()}`)
              t.notOk(existsSync(overlay), 'after the failed login the user has no overlay')
              t.notOk((await tgtd.tgtadm('--mode', 'target', '--op', 'show')).includes(iqn), 'and no target')
              const after = Math.max(0, vm.log().length - 8)
              vm.process.write('2')
              await vm.waitFor(/Password+:/, 120_000, { failOn, after })
            }
            await typeLogin(vm, user.username, user.password, failOn)
            await vm.waitFor(new RegExp(ESP_WRITTEN), 300_000, { failOn })
            log = vm.log()
          } finally {
            await vm.stop()
          }
          t.comment(`${backend} UEFI machine ${i + 1}: GRUB wrote back ${Math.round(performance.now() - started)} ms after QEMU start`)
          t.match(log, /Registered SAN device 0x80/, "UEFI iPXE logged in to the user's target with the CHAP secret and registered the disk")
          t.ok(log.lastIndexOf(ESP_HELLO) > log.lastIndexOf('Password:'), "GRUB from the disk's ESP ran after the login")
          t.equal(ESP_BOOTS.exec(log)?.[1], String(i), `grubenv over iSCSI held ${i}`)
          t.notOk(log.includes(user.password), 'the password is not echoed on the console')
          t.equal(readEspBoots(exported, inTgtdMounts), i + 1, `the host reads boots=${i + 1} in the user's overlay (its export)`)

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
          t.match(d.at(-1), {
            decidedBy: 'policy:50-fedora-disk.ts',
            context: { arch: 'x86_64-efi', params: { instance: 'fc29' }, auth: { principal: { name: user.username, source: PLUGIN[backend] } } },
          })
          const ino = statSync(overlay).ino
          if (i === 0) overlayIno = ino
          else t.equal(ino, overlayIno, 'the same overlay file as machine 1')
        })
      }

      t.equal(sha256(base), baseHash, "fc29.img's sha256 is unchanged: the writes went to the overlay")
      const logText = server.process.output()
      t.notOk(logText.includes(user.password) || logText.includes(wrong), 'neither password is in the server log')
      t.notOk(logText.includes(Buffer.from(user.password).toString('hex').match(/../g)!.join('-')), 'nor the hex form iPXE sent')
      t.same(server.problems(), [], 'no warnings or errors in the server log')
    })
  }
})
