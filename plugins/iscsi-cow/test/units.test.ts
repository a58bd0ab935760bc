/** Unit tests: names, CHAP secrets, tgtadm parsing and argument arrays, locks, state files, backends' command plans, validation. */
import t from 'tap'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CHAP_ALPHABET, chapSecret } from '../chap-secret.js'
import { detectBackend } from '../cow-backend.js'
import { DmSnapshotBackend } from '../dm-snapshot-backend.js'
import type { Runner } from '../exec.js'
import { execRunner, printable } from '../exec.js'
import { KeyedMutex, FileLocks } from '../key-mutex.js'
import { ambiguousImageNames, checkUser, reversedHostname, targetIqn } from '../names.js'
import { Qcow2Backend, qemuValue } from '../qcow2-backend.js'
import { validateDisk, sanbootUri, kernelIscsiArgs } from '../render.js'
import { StateStore, writeJsonAtomic } from '../state-store.js'
import { TgtAdm, parseAccounts, parseTargets } from '../tgtadm.js'
import { iscsiCow, iscsiUser } from '../policy-helpers.js'

const tmp = () => {
  const dir = mkdtempSync(join(tmpdir(), 'bp-iscsi-unit-'))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/** A Runner that records every call and answers from a table. */
function fakeRunner(answers: Record<string, string> = {}) {
  const calls: string[][] = []
  const run: Runner = async (file, args) => {
    calls.push([file, ...args])
    const key = Object.keys(answers).find((k) => [file, ...args].join(' ').startsWith(k))
    return { stdout: key ? answers[key]! : '', stderr: '' }
  }
  return { run, calls }
}

t.test('names: IQN, reversed host name, refused users, ambiguous images', async (t) => {
  t.equal(reversedHostname('server-01.example.edu'), 'edu.example.server-01')
  t.equal(reversedHostname('Server-01.Example.EDU.'), 'edu.example.server-01')
  t.equal(targetIqn('edu.example.server-01', 'fc29', 'jsmith'), 'iqn.edu.example.server-01:fc29-jsmith')
  t.throws(() => reversedHostname('bad_host.example'), { code: 'BP_ERR_ISCSI_NAME' })
  for (const ok of ['jsmith', 'j.smith', 'a-b', '0day']) t.equal(checkUser(ok), ok)
  for (const bad of ['JSmith', 'j_smith', 'a@b', '.x', '-x', 'a..b', 'x'.repeat(65), 'a b', 'a:b']) t.throws(() => checkUser(bad), { code: 'BP_ERR_ISCSI_NAME' }, bad)
  t.same(ambiguousImageNames(['fc29', 'fc29-a', 'fc28']), ['images: "fc29-a" starts with "fc29-", so their IQNs could collide'])
  t.same(ambiguousImageNames(['fc29', 'fc28']), [])
  t.equal(iscsiUser('alice'), 'alice')
  t.equal(iscsiUser('Alice'), undefined)
})

t.test('CHAP secrets: 12-16 characters of letters and digits, from the crypto RNG, all characters used', async (t) => {
  const seen = new Set<string>()
  for (let i = 0; i < 2000; i++) {
    const s = chapSecret()
    t.equal(s.length, 16)
    for (const c of s) seen.add(c)
  }
  t.equal(seen.size, CHAP_ALPHABET.length, 'every character of the alphabet occurs')
  t.match(chapSecret(12), /^[A-Za-z0-9]{12}$/)
  t.throws(() => chapSecret(11))
  t.throws(() => chapSecret(17))
})

const SHOW = `Target 1: iqn.edu.example.server-01:fc29-alice
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
        I_T nexus: 3
            Initiator: iqn.2008-11.org.linux-kvm alias: none
            Connection: 0
                IP Address: 127.0.0.1
    LUN information:
        LUN: 0
            Type: controller
            Backing store type: null
            Backing store path: None
            Backing store flags: 
        LUN: 1
            Type: disk
            Size: 8 MB, Block size: 512
            Backing store type: rdwr
            Backing store path: /var/lib/bootpolicy/exports/fc29/alice.raw
            Backing store flags: 
    Account information:
        alice
        bp_guard_fc29-alice
    ACL information:
        ALL
Target 3: iqn.edu.example.server-01:fc29-bob
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
    LUN information:
        LUN: 0
            Type: controller
            Backing store path: None
    Account information:
    ACL information:
`

t.test('tgtadm: show output parsed; argument arrays exact', async (t) => {
  t.same(parseTargets(SHOW), [
    {
      tid: 1,
      name: 'iqn.edu.example.server-01:fc29-alice',
      sessions: [{ sid: 3, initiator: 'iqn.2008-11.org.linux-kvm', cids: [0] }],
      luns: [
        { lun: 0, type: 'controller' },
        { lun: 1, type: 'disk', backingStore: '/var/lib/bootpolicy/exports/fc29/alice.raw' },
      ],
      accounts: ['alice', 'bp_guard_fc29-alice'],
      acl: ['ALL'],
    },
    { tid: 3, name: 'iqn.edu.example.server-01:fc29-bob', sessions: [], luns: [{ lun: 0, type: 'controller' }], accounts: [], acl: [] },
  ])
  t.same(parseTargets(''), [])
  t.same(parseAccounts('Account list:\n    alice\n    bob\n'), ['alice', 'bob'])
  const f = fakeRunner()
  const accounts: string[][] = []
  const tgt = new TgtAdm(f.run, { path: '/usr/sbin/tgtadm', controlPort: 7001 }, async (user, secret) => void accounts.push([user, secret]))
  await tgt.newTarget(2, 'iqn.x:y')
  await tgt.newLun(2, 1, '/srv/a b.raw')
  await tgt.newAccount('alice', 'Secret1234567890')
  await tgt.closeConnection(2, 5, 0)
  t.same(f.calls, [
    ['/usr/sbin/tgtadm', '-C', '7001', '--lld', 'iscsi', '--mode', 'target', '--op', 'new', '--tid', '2', '--targetname', 'iqn.x:y'],
    ['/usr/sbin/tgtadm', '-C', '7001', '--lld', 'iscsi', '--mode', 'logicalunit', '--op', 'new', '--tid', '2', '--lun', '1', '--backing-store', '/srv/a b.raw'],
    ['/usr/sbin/tgtadm', '-C', '7001', '--lld', 'iscsi', '--mode', 'conn', '--op', 'delete', '--tid', '2', '--sid', '5', '--cid', '0'],
  ])
  t.same(accounts, [['alice', 'Secret1234567890']], 'accounts go through the account channel, not tgtadm (no secret in argv)')
  t.equal(printable('tgtadm', ['--user', 'a', '--password', 'Secret1234567890']), 'tgtadm --user a --password [redacted]', 'errors never show the secret')
})

t.test('exec: a missing tool is named with its package; a failure carries exit code and stderr', async (t) => {
  const run = execRunner({ timeoutMs: 5000 })
  await t.rejects(run('/nonexistent/tgtadm', ['--op', 'show']), { code: 'BP_ERR_ISCSI_COMMAND', message: /not installed \(Debian package tgt\)/ })
  await t.rejects(run('sh', ['-c', 'echo boom >&2; exit 3']), { code: 'BP_ERR_ISCSI_COMMAND', message: /exit 3.*boom/ })
  t.equal((await run('sh', ['-c', 'printf ok'])).stdout, 'ok')
})

t.test('dm-snapshot: detection and the exact command plan (device-mapper cannot run on this machine)', async (t) => {
  // A real check of this host, not a mock: there is no /dev/mapper/control here, so auto picks qcow2.
  t.notOk(existsSync('/dev/mapper/control'), 'this machine has no device-mapper control node')
  t.equal(detectBackend('auto'), 'qcow2')
  t.equal(detectBackend('auto', { exists: (p) => p === '/dev/mapper/control' }), 'dm-snapshot')
  t.equal(detectBackend('dm-snapshot', { exists: () => false }), 'dm-snapshot', 'an explicit choice is kept')

  const d = tmp()
  t.teardown(d.remove)
  const base = join(d.dir, 'fc29.img')
  writeFileSync(base, Buffer.alloc(1 << 20))
  const f = fakeRunner({
    'losetup --show --read-only': '/dev/loop0\n',
    'blockdev --getsz': '2048\n',
    'losetup --show --nooverlap --find': '/dev/loop1\n',
    'losetup -j': '/dev/loop1: []: (/x/alice.cow)\n',
  })
  let mapped = false
  const dm = new DmSnapshotBackend(f.run, { dataDir: d.dir, exists: async () => mapped })
  const { overlay, device } = dm.paths('fc29', 'alice')
  t.equal(device, '/dev/mapper/fc29-alice')
  await dm.createOverlay(base, overlay)
  t.equal(statSync(overlay).size, 1 << 20, 'sparse overlay of the base size')
  t.equal(statSync(overlay).blocks, 0, 'no data blocks before a write')
  t.same(await dm.ensureDevice('fc29', 'alice', base), { started: true })
  t.same(f.calls, [
    ['losetup', '--show', '--read-only', '--nooverlap', '--find', base],
    ['blockdev', '--getsz', '/dev/loop0'],
    ['losetup', '--show', '--nooverlap', '--find', overlay],
    ['dmsetup', 'create', 'fc29-alice', '--table', '0 2048 snapshot /dev/loop0 /dev/loop1 P 8'],
  ])
  mapped = true
  f.calls.length = 0
  t.same(await dm.ensureDevice('fc29', 'alice', base), { started: false }, 'an existing mapping is adopted')
  await dm.removeDevice('fc29', 'alice')
  t.same(f.calls, [
    ['dmsetup', 'remove', 'fc29-alice'],
    ['losetup', '-j', overlay],
    ['losetup', '-d', '/dev/loop1'],
  ])
})

t.test('qcow2: argument arrays; commas escaped for qemu', async (t) => {
  const q = new Qcow2Backend(fakeRunner().run, { dataDir: '/var/lib/bp', qemuImg: 'qemu-img', qemuStorageDaemon: 'qemu-storage-daemon' })
  t.same(q.createOverlayArgs('/srv/fc29.img', '/var/lib/bp/overlays/fc29/alice.qcow2'), ['create', '-q', '-f', 'qcow2', '-b', '/srv/fc29.img', '-F', 'raw', '/var/lib/bp/overlays/fc29/alice.qcow2'])
  t.same(q.daemonArgs('/o/a,b.qcow2', '/e/a.raw', '/r/a.pid'), [
    '--daemonize',
    '--pidfile',
    '/r/a.pid',
    '--blockdev',
    'driver=file,node-name=file0,filename=/o/a,,b.qcow2',
    '--blockdev',
    'driver=qcow2,node-name=disk0,file=file0',
    '--export',
    'type=fuse,id=export0,node-name=disk0,mountpoint=/e/a.raw,writable=on',
  ])
  t.equal(qemuValue('a,b,,c'), 'a,,b,,,,c')
})

t.test("locks: one key at a time, keys in parallel; a dead owner's lock file is taken over", async (t) => {
  const m = new KeyedMutex()
  const order: string[] = []
  const step = (k: string, ms: number) =>
    m.run(k, async () => {
      order.push(`${k}+`)
      await new Promise((r) => setTimeout(r, ms))
      order.push(`${k}-`)
    })
  await Promise.all([step('a', 30), step('a', 10), step('b', 5)])
  t.same(order, ['a+', 'b+', 'b-', 'a-', 'a+', 'a-'])
  const d = tmp()
  t.teardown(d.remove)
  writeFileSync(join(d.dir, 'k.lock'), '999999999\n')
  const locks = new FileLocks(d.dir, 500)
  t.equal(await locks.run('k', async () => readFileSync(join(d.dir, 'k.lock'), 'utf8')), `${process.pid}\n`, 'stale lock replaced')
  t.same(readdirSync(d.dir), [], 'released')
  writeFileSync(join(d.dir, 'k.lock'), `${process.ppid}\n`)
  await t.rejects(
    locks.run('k', async () => 1),
    { code: 'BP_ERR_ISCSI_BUSY' },
    'a live owner keeps it',
  )
})

t.test('state files: atomic JSON, no temp files left, records listed in order', async (t) => {
  const d = tmp()
  t.teardown(d.remove)
  await writeJsonAtomic(join(d.dir, 'x', 'a.json'), { a: 1 })
  t.same(JSON.parse(readFileSync(join(d.dir, 'x', 'a.json'), 'utf8')), { a: 1 })
  t.same(readdirSync(join(d.dir, 'x')), ['a.json'])
  t.equal(statSync(join(d.dir, 'x', 'a.json')).mode & 0o777, 0o600)
  const store = new StateStore(join(d.dir, 's'))
  const rec = (instance: string, user: string) => ({ instance, user, iqn: `iqn.x:${instance}-${user}`, backend: 'qcow2' as const, overlay: '/o', device: '/d', createdAt: '', updatedAt: '' })
  await store.putUser(rec('fc29', 'bob'))
  await store.putUser(rec('fc28', 'zed'))
  await store.putUser(rec('fc29', 'alice'))
  t.same(
    (await store.listUsers()).map((r) => `${r.instance}/${r.user}`),
    ['fc28/zed', 'fc29/alice', 'fc29/bob'],
  )
  writeFileSync(join(d.dir, 's', 'users', 'fc29', 'bad.json'), '{')
  await t.rejects(store.listUsers(), { code: 'BP_ERR_ISCSI_STATE' })
})

t.test('decision validation and URIs', async (t) => {
  const check = (d: unknown) => {
    const problems: string[] = []
    validateDisk(['fc29'], d as Record<string, unknown>, '$', problems)
    return problems
  }
  t.same(check(iscsiCow({ image: 'fc29' })), [])
  t.same(check(iscsiCow({ image: 'fc29', boot: { kernel: '/k', args: ['rw'] } })), [])
  t.match(check(iscsiCow({ image: 'fc30' })), [/unknown image "fc30"/])
  t.match(check({ ...iscsiCow({ image: 'fc29' }), target: {} }), [/\$\.target: unknown field/])
  t.match(check(iscsiCow({ image: 'fc29', boot: { kernel: '/k', args: ['root=/dev/sda'] } })), [/root= is set by the iscsi-cow plugin/])
  t.match(check({ kind: 'iscsi-cow.disk', image: 'fc29', boot: 'pxe' }), [/expected 'sanboot'/])
  const a = { portal: '192.0.2.158', port: 3260, iqn: 'iqn.edu.example.server-01:fc29-jsmith', lun: 1, chapUser: 'jsmith', chapSecret: 'AbCdEfGhIjKlMnOp' }
  t.equal(sanbootUri(a), 'iscsi:192.0.2.158:::1:iqn.edu.example.server-01:fc29-jsmith', 'LUN 1: LUN 0 is the controller')
  t.equal(sanbootUri({ ...a, port: 3261 }), 'iscsi:192.0.2.158::3261:1:iqn.edu.example.server-01:fc29-jsmith')
  t.same(kernelIscsiArgs(a), [
    'netroot=iscsi:jsmith:AbCdEfGhIjKlMnOp@192.0.2.158::3260:1:iqn.edu.example.server-01:fc29-jsmith',
    'root=/dev/disk/by-path/ip-192.0.2.158:3260-iscsi-iqn.edu.example.server-01:fc29-jsmith-lun-1',
  ])
})
