/**
 * The e2e harness itself: cleanup guarantees, missing-tool errors, the initramfs writer and the
 * serial-log cleaner. No QEMU here; it runs in ~3 s.
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { writeCpio } from '../helpers/boot-payload-cpio.js'
import { buildBootPayload, parseMarkerReport } from '../helpers/boot-payload.js'
import { createTestNet } from '../helpers/e2e-net.js'
import { startProcess } from '../helpers/e2e-process.js'
import { E2eMissingToolError, requireCommand } from '../helpers/e2e-require.js'
import { bootMilestones, cleanSerial, serialLines } from '../helpers/qemu-serial.js'

// Real components (QEMU under TCG, namespaces, servers) on a loaded 2-core CI host: well past tap's 120 s per file (package.json).
t.setTimeout(600_000)

const namespaces = (): string => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

t.test('close() stops processes inside and deletes the namespace', async (t) => {
  const net = await createTestNet()
  t.match(net.name, /^bpe2e-\d+-[0-9a-f]{6}$/)
  t.match(namespaces(), net.name)
  const tap = await net.addTap()
  t.equal(tap, 'tap0')
  t.match(await net.exec('ip', ['-br', 'addr', 'show', 'br0']), `${net.serverIp}/24`)
  const sleeper = net.spawn('sleeper', 'sleep', ['600'])
  await sleep(100)
  t.ok(alive(sleeper.pid))
  await net.close()
  t.notOk(alive(sleeper.pid), 'process gone')
  t.notMatch(namespaces(), net.name, 'namespace gone')
  await net.close() // idempotent
})

t.test('a test process killed with SIGKILL leaves no namespace behind', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bpe2e-crash-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const script = join(dir, 'crash.mts')
  const helper = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../helpers/e2e-net.ts')
  writeFileSync(
    script,
    `import { createTestNet } from ${JSON.stringify(helper)}\n` +
      `const net = await createTestNet({ routerAdvertisement: false })\n` +
      `net.spawn('sleeper', 'sleep', ['600'])\n` +
      `console.log(net.name)\n` +
      `setInterval(() => {}, 1000)\n`,
  )
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  const name = await new Promise<string>((ok) => child.stdout.once('data', (b: Buffer) => ok(b.toString().trim())))
  t.match(namespaces(), name)
  child.kill('SIGKILL')
  for (let i = 0; i < 50 && namespaces().includes(name); i++) await sleep(100)
  t.notMatch(namespaces(), name, 'the guardian deleted it')
})

t.test('outputToFile: every byte the child writes while the test process is busy arrives, in order, after it exits too', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bpe2e-out-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const logFile = join(dir, 'child.log')
  writeFileSync(logFile, 'earlier run\n')
  // 2,000 numbered lines in single-line writes (as QEMU writes its serial port byte by byte), one
  // on stderr, then the end; meanwhile this process does not look at its event loop for 300 ms.
  const script = 'i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done; echo oops >&2; echo END'
  const proc = startProcess({ name: 'writer', command: 'sh', args: ['-c', script], logFile, outputToFile: true })
  const busyUntil = Date.now() + 300
  while (Date.now() < busyUntil) {
    // a starved test process
  }
  const { atMs } = await proc.waitForOutput(/END\n/, 30_000)
  t.ok(atMs > 0, `seen ${Math.round(atMs)} ms after spawn`)
  await proc.exited
  const lines = proc.output().split('\n')
  t.same(
    lines.slice(0, 2000),
    Array.from({ length: 2000 }, (_, i) => `line ${i}`),
    'every line, in order',
  )
  t.same(lines.slice(2000), ['oops', 'END', ''], 'stderr in the same stream, then the end')
  t.notMatch(proc.output(), /earlier run/, 'what the log held before the spawn is not output')
  t.match(readFileSync(logFile, 'utf8'), /^earlier run\nline 0\n[\s\S]*END\n$/, 'the log file has it once, after its earlier content')
})

t.test('a missing tool is an error naming the tool and its package', async (t) => {
  t.throws(() => requireCommand('bpe2e-no-such-tool', 'bpe2e-pkg'), {
    name: 'E2eMissingToolError',
    message: /missing tool bpe2e-no-such-tool \(Debian package bpe2e-pkg\)/,
  })
  const dir = mkdtempSync(join(tmpdir(), 'bpe2e-cache-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // /bin/ls is dynamically linked: the payload needs busybox-static.
  await t.rejects(buildBootPayload({ cacheDir: dir, busybox: '/bin/ls' }), new E2eMissingToolError('static busybox', 'busybox-static', '/bin/ls is dynamically linked'))
})

t.test('writeCpio produces an archive cpio can list', async (t) => {
  const archive = writeCpio([
    { type: 'dir', path: 'bin' },
    { type: 'file', path: 'bin/hello', data: 'hi\n', mode: 0o755 },
    { type: 'symlink', path: 'bin/sh', target: 'busybox' },
    { type: 'char', path: 'console', major: 5, minor: 1 },
  ])
  t.equal(archive.length % 4, 0)
  const listing = execFileSync(requireCommand('busybox', 'busybox-static'), ['cpio', '-t'], { input: archive, encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore'] })
  t.same(listing.trim().split('\n'), ['bin', 'bin/hello', 'bin/sh', 'console'])
})

t.test('serial log cleaning, line times and milestones', async (t) => {
  const chunks = [
    { atMs: 10, text: '\x1bc\x1b[?7l\x1b[2JSeaBIOS (version 1.16)\r\n' },
    { atMs: 20, text: 'iPXE (PCI 00:01.0) starting execution...ok\r\nPress Ctrl-B for the iPXE command line...' },
    { atMs: 30, text: '\b \b'.repeat(42) + 'net0: 52:54:00:e2:e0:01 using virtio-net\r\nConfiguring (net0 52:54:00:e2:e0:01)...' },
    { atMs: 90, text: ' ok\r\nnet0: 10.213.1.100/255.255.255.0 gw 10.213.1.1\r\n' },
    { atMs: 95, text: 'boot.ipxe : 100 bytes [script]\r\nhttp://10.213.1.1:8080/vmlinuz...' },
    { atMs: 150, text: ' ok\r\n\x1b[0;1mBOOTPOLICY-E2E-CMDLINE initrd=initrd.gz quiet\r\nBOOTPOLICY-E2E-DMI product_serial=S1\r\nBOOTPOLICY-E2E-MARKER\r\n' },
  ]
  const lines = serialLines(chunks)
  t.same(
    lines.map((l) => [l.startMs, l.atMs, l.text]),
    [
      [10, 10, 'SeaBIOS (version 1.16)'],
      [20, 20, 'iPXE (PCI 00:01.0) starting execution...ok'],
      [30, 30, 'net0: 52:54:00:e2:e0:01 using virtio-net'],
      [30, 90, 'Configuring (net0 52:54:00:e2:e0:01)... ok'],
      [90, 90, 'net0: 10.213.1.100/255.255.255.0 gw 10.213.1.1'],
      [95, 95, 'boot.ipxe : 100 bytes [script]'],
      [95, 150, 'http://10.213.1.1:8080/vmlinuz... ok'],
      [150, 150, 'BOOTPOLICY-E2E-CMDLINE initrd=initrd.gz quiet'],
      [150, 150, 'BOOTPOLICY-E2E-DMI product_serial=S1'],
      [150, 150, 'BOOTPOLICY-E2E-MARKER'],
    ],
  )
  t.same(bootMilestones(lines), { ipxeStart: 20, ipxeConfigured: 90, scriptLoaded: 95, downloadsDone: 150, marker: 150 })
  t.same(parseMarkerReport(cleanSerial(chunks.map((c) => c.text).join(''))), {
    cmdline: 'initrd=initrd.gz quiet',
    dmi: { product_serial: 'S1' },
    files: {},
  })
  t.equal(parseMarkerReport('no marker here'), undefined)
})
