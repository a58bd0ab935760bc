/**
 * Seed 000 part 4 with bootpolicy alone, against real iPXE (BIOS), a real tgtd and a real PAM user:
 *
 *   1. the first /boot gets `login`: iPXE shows its Username/Password form, and the test types the
 *      PAM user's credentials on the serial console (the real prompt, no scripted shortcut); iPXE
 *      chains /boot again with `username_hex=${username:hexhyp}&password_hex=${password:hexhyp}`;
 *   2. auth-pam authenticates the user (pam_unix, a private /etc/pam.d service); the policy returns
 *      `iscsi-cow.disk`; iscsi-cow creates the user's qcow2 overlay over base.img, exports it through
 *      qemu-storage-daemon's FUSE export, creates the target with LUN 1 in tgtd (started in the
 *      namespace on the server IP) and a fresh CHAP secret; the script does `set username`/
 *      `set password` + `sanboot iscsi:<server>:::1:<iqn>`;
 *   3. the disk's boot sector (test/helpers/e2e-bootsector.ts, hand-assembled) prints a marker on
 *      COM1, reads LBA 1 over iSCSI (INT 13h → iPXE → tgtd), prints the boot counter it holds, and
 *      writes it back incremented;
 *   4. a second machine, same user: a new login (new CHAP secret), the same overlay, and the boot
 *      sector sees the counter the first boot wrote. base.img's sha256 never changes.
 *
 * The CHAP secret is never read by the test and never logged: the guest proves the login worked;
 * an initiator without credentials is refused.
 *
 * Mount namespaces: every `ip netns exec` gets a private mount namespace, so the FUSE export that
 * bootpolicy's qemu-storage-daemon mounts would be invisible to a tgtd started by another
 * `ip netns exec` (tgtd would serve the empty file under the mount point). bootpolicy therefore
 * runs in tgtd's mount namespace (`nsenter --mount=/proc/<tgtd>/ns/mnt`, startBootpolicy's
 * `spawnPrefix`).
 */
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { buildBootPayload, PAYLOAD_MARKER } from '../helpers/boot-payload.js'
import { SECTOR_BOOTS, SECTOR_FAIL, SECTOR_WRITTEN, sectorRanAfter, writeCounterDisk } from '../helpers/e2e-bootsector.js'
import { serverTail, startBootpolicy } from '../helpers/e2e-bootpolicy.js'
import { createTestNet } from '../helpers/e2e-net.js'
import { requireCommand } from '../helpers/e2e-require.js'
import { createPamUser } from '../helpers/pam-user.js'
import { typeLogin } from '../helpers/e2e-login.js'
import { BOOT_FAILURES, startQemu } from '../helpers/qemu.js'
import { requireTools } from '../helpers/tgtd.js'

// Real components (QEMU under TCG, namespaces, servers) on a loaded 2-core CI host: well past tap's 120 s per file (package.json).
t.setTimeout(600_000)

const execFileP = promisify(execFile)
const IMAGE = 'e2edisk'
const HOST = 'e2e.bootpolicy.test' // reversed into the IQN
const MACHINES = ['52:54:00:e2:06:01', '52:54:00:e2:06:02']
const failOn = new RegExp(`${BOOT_FAILURES.source}|${SECTOR_FAIL}|Could not (?:boot|open|start)[^\\n]*\\n|${PAYLOAD_MARKER}`)

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex')

t.test("seed 000 part 4: login, PAM, a COW disk per user over iSCSI with CHAP, sanboot; the second boot sees the first one's write (BIOS)", async (t) => {
  requireTools('tgtd', 'tgtadm', 'qemu-img', 'qemu-io', 'qemu-storage-daemon')
  const nsenter = requireCommand('nsenter', 'util-linux')
  const payload = await buildBootPayload() // startBootpolicy serves it; this scenario boots a disk instead
  const net = await createTestNet()
  t.teardown(() => net.close({ keepLogs: !t.passing() }))
  // Shorter than iPXE's 20-column field (so every key's echo can be awaited), with characters a URL or
  // a shell would mangle: the hex round trip must carry them.
  const user = createPamUser({ password: `Pw &?#%'"$=+${randomBytes(3).toString('hex')}` })
  t.teardown(() => user.remove())

  const base = join(net.dir, 'base.img')
  writeCounterDisk(base, 16) // ≥ 8 MiB: iPXE's INT 13h geometry (255 heads × 63 sectors) has 0 cylinders below 16065 sectors, and every CHS read fails
  const baseHash = sha256(base)
  const dataDir = join(net.dir, 'iscsi-data')

  // tgtd on the server IP inside the namespace, with a control socket of its own.
  let control = 1024 + Math.floor(Math.random() * 30000)
  while (existsSync(`/var/run/tgtd/socket.${control}`)) control++
  t.teardown(() => {
    for (const f of [`/var/run/tgtd/socket.${control}`, `/var/run/tgtd/socket.${control}.lock`]) rmSync(f, { force: true })
  })
  const tgtd = net.spawn('tgtd', 'tgtd', ['-f', '-C', String(control), '--iscsi', `portal=${net.serverIp}:3260`])
  const tgtadm = async (...args: string[]): Promise<string> => (await execFileP('tgtadm', ['-C', String(control), '--lld', 'iscsi', ...args])).stdout
  let up = false
  for (let i = 0; i < 100 && !up; i++) {
    up = await tgtadm('--mode', 'target', '--op', 'show').then(
      () => true,
      () => false,
    )
    if (!up) await new Promise((r) => setTimeout(r, 50))
  }
  t.ok(up, 'tgtd answers on its control socket')
  t.equal(readFileSync(`/proc/${tgtd.pid}/comm`, 'utf8').trim(), 'tgtd', "ip netns exec exec'd tgtd (its pid names its mount namespace)")

  const server = await startBootpolicy({
    net,
    scenario: 'iscsi-sanboot',
    payload,
    tftpFiles: [],
    spawnPrefix: [nsenter, `--mount=/proc/${tgtd.pid}/ns/mnt`, '--'],
    config: {
      plugins: [
        { name: 'auth-pam', options: { service: user.service } },
        {
          name: 'iscsi-cow',
          options: {
            images: { [IMAGE]: { base } },
            portal: { address: net.serverIp, port: 3260 },
            hostname: HOST,
            backend: 'qcow2',
            dataDir,
            tgtadm: { controlPort: control },
          },
        },
      ],
    },
  })
  t.teardown(() => {
    if (!t.passing()) t.comment(serverTail(server))
  })

  const iqn = `iqn.test.bootpolicy.e2e:${IMAGE}-${user.username}`
  const overlay = join(dataDir, 'overlays', IMAGE, `${user.username}.qcow2`)
  const exportFile = join(dataDir, 'exports', IMAGE, `${user.username}.raw`)
  let overlayIno = 0

  for (const [i, mac] of MACHINES.entries()) {
    await t.test(`boot ${i + 1} (${mac}): login, sanboot, the boot sector counts ${i}`, async (t) => {
      const vm = await startQemu({ net, firmware: 'bios', mac, name: `qemu-sanboot${i + 1}`, memoryMb: 128 })
      let log: string
      let markerMs: number
      try {
        await vm.waitFor(/Password+:/, 30_000, { failOn })
        await typeLogin(vm, user.username, user.password, failOn)
        markerMs = (await vm.waitFor(new RegExp(SECTOR_WRITTEN), 60_000, { failOn })).atMs
        log = vm.log()
      } finally {
        await vm.stop()
      }
      t.match(log, /Booting from SAN device 0x80|Registered SAN device 0x80/, 'iPXE attached the iSCSI disk as drive 0x80')
      t.ok(sectorRanAfter(log, /Password+:/g), "the disk's boot sector ran after the login")
      t.equal(SECTOR_BOOTS.exec(log)?.[1], String(i), `LBA 1 read over iSCSI holds the counter ${i}`)
      t.notMatch(log, user.password, 'the password is not echoed on the console')

      const d = server.decisionsFor(mac)
      t.same(
        d.map((x) => [x.kind, x.context.auth.status]),
        [
          ['login', 'none'],
          ['iscsi-cow.disk', 'authenticated'],
        ],
        'login, then the disk for the authenticated user',
      )
      t.match(d[1], { decidedBy: 'policy:40-disk.ts', context: { auth: { principal: { name: user.username, source: 'auth-pam' } } } })
      t.match(
        d[1]!.plugins,
        [
          { plugin: 'auth-pam', hook: 'authenticate' },
          { plugin: 'iscsi-cow', hook: 'prepare' },
        ],
        'auth-pam authenticated, iscsi-cow provisioned',
      )

      const st = statSync(overlay)
      if (i === 0) overlayIno = st.ino
      else t.equal(st.ino, overlayIno, 'the same overlay file as the first boot (not recreated)')
      t.comment(`boot ${i + 1}: boot sector done ${Math.round(markerMs)} ms after QEMU start`)
    })
  }

  const show = await tgtadm('--mode', 'target', '--op', 'show')
  const target = show.slice(show.indexOf(`: ${iqn}\n`))
  t.ok(show.includes(`: ${iqn}\n`), `tgtd has the target ${iqn}`)
  t.match(target, new RegExp(`LUN: 1[\\s\\S]*Backing store path: ${exportFile}`), 'LUN 1 is the FUSE export of the overlay')
  t.match(target, new RegExp(`Account information:\\n(?:\\s+\\S+\\n)*?\\s+${user.username}\\n`), "the user's CHAP account is bound to the target")

  // What the guest wrote is in the overlay (read through the export, in tgtd's mount namespace) …
  const lba1 = (await execFileP(nsenter, [`--mount=/proc/${tgtd.pid}/ns/mnt`, '--', 'dd', `if=${exportFile}`, 'bs=512', 'skip=1', 'count=1', 'status=none'], { encoding: 'buffer' })).stdout
  t.equal(lba1[0], 2, "the user's disk holds the counter after two boots")
  // … and not in the base.
  t.equal(readFileSync(base)[512], 0, "base.img's LBA 1 is still 0")
  t.equal(sha256(base), baseHash, "base.img's sha256 is unchanged")

  // CHAP is enforced: an initiator without credentials is refused.
  const anonymous = await net.exec('qemu-io', ['-r', '-c', 'read 0 512', `iscsi://${net.serverIp}:3260/${iqn}/1`]).then(
    () => 'read',
    (err: Error) => err.message,
  )
  t.not(anonymous, 'read', 'qemu-io without CHAP credentials cannot read the disk')

  const logText = server.process.output()
  t.notOk(logText.includes(user.password), 'the password is not in the server log')
  t.notOk(logText.includes(Buffer.from(user.password).toString('hex').match(/../g)!.join('-')), 'nor its hex form')
  t.same(server.problems(), [], 'no warnings or errors in the server log')
})
