/**
 * The boot payload every e2e scenario boots: a Debian kernel and a busybox initramfs whose /init
 * prints what the boot delivered (kernel command line, SMBIOS fields, extra initrd files) to the
 * serial console and powers off.
 *
 * Built once into a cache directory outside the repository ($BOOTPOLICY_E2E_CACHE, default
 * /var/cache/bootpolicy-e2e) under a content key: the kernel .deb, busybox and this file's layout.
 * A second call, in this process or the next, only checks that the files are there.
 */
import { spawn, execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, existsSync, readdirSync } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { type CpioEntry, writeCpio } from './boot-payload-cpio.js'
import { E2eMissingToolError, isStaticElf, requireCommand, requireFile } from './e2e-require.js'

/** Printed last by /init: when it is in the log, every report line before it is too. */
export const PAYLOAD_MARKER = 'BOOTPOLICY-E2E-MARKER'
/** Bump when the initramfs layout or /init changes: it is part of the content key. */
const LAYOUT_VERSION = 2
const APT_ARCHIVES = '/var/cache/apt/archives'
/** The cloud flavour: smaller module set, has virtio, 8250 serial, EFI stub — all we need. */
const DEFAULT_KERNEL_META = 'linux-image-cloud-amd64'

export interface BootPayload {
  /** Directory holding the files below and manifest.json. */
  readonly dir: string
  /** Absolute path of the kernel (bzImage with EFI stub). */
  readonly kernel: string
  /** Absolute path of the gzip'ed newc initramfs. */
  readonly initrd: string
  /** File names to publish them under; UEFI needs `initrd=<initrdName>` on the kernel line. */
  readonly kernelName: 'vmlinuz'
  readonly initrdName: 'initrd.gz'
  readonly kernelVersion: string
  /** The .deb the kernel came from. */
  readonly kernelDeb: string
  /** Content key (sha256 hex). */
  readonly key: string
  readonly sizes: { readonly kernel: number; readonly initrd: number }
}

export interface BuildBootPayloadOptions {
  /** Default: $BOOTPOLICY_E2E_CACHE or /var/cache/bootpolicy-e2e. */
  readonly cacheDir?: string
  /** A linux-image .deb to use (default: $BOOTPOLICY_E2E_KERNEL_DEB, then the apt cache, then apt-get download). */
  readonly kernelDeb?: string
  /** Package to look for / download (default: $BOOTPOLICY_E2E_KERNEL_PKG, else the cloud kernel). */
  readonly kernelPackage?: string
  /** Statically linked busybox (default /bin/busybox from busybox-static). */
  readonly busybox?: string
}

/** What /init reported, parsed from the serial log. */
export interface MarkerReport {
  readonly cmdline: string
  /** /sys/class/dmi/id: product_serial, product_uuid, sys_vendor, product_name. */
  readonly dmi: Readonly<Record<string, string>>
  /** Files found under /bootpolicy in the initramfs (first 256 bytes, newlines as spaces). */
  readonly files: Readonly<Record<string, string>>
}

/** Loaded in this order by /init for a callback (their modules.dep order); .ko files of the kernel .deb. */
const CALLBACK_MODULES = [
  'kernel/net/core/failover.ko',
  'kernel/drivers/net/net_failover.ko',
  'kernel/drivers/virtio/virtio.ko',
  'kernel/drivers/virtio/virtio_ring.ko',
  'kernel/drivers/virtio/virtio_pci_modern_dev.ko',
  'kernel/drivers/virtio/virtio_pci_legacy_dev.ko',
  'kernel/drivers/virtio/virtio_pci.ko',
  'kernel/drivers/net/virtio_net.ko',
]
const INIT_SCRIPT = `#!/bin/sh
# bootpolicy e2e payload: report what the boot delivered, then power off.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo "BOOTPOLICY-E2E-CMDLINE $(cat /proc/cmdline)"
for f in product_serial product_uuid sys_vendor product_name; do
  echo "BOOTPOLICY-E2E-DMI $f=$(cat /sys/class/dmi/id/$f 2>/dev/null)"
done
for f in $(find /bootpolicy -type f 2>/dev/null); do
  echo "BOOTPOLICY-E2E-FILE $f $(head -c 256 "$f" | tr '\\n' ' ')"
done
# An installer callback (test/e2e/bootpolicy-intents.test.ts): bp.cb=URL on the command line brings
# the NIC up (virtio modules, DHCP) and POSTs bp.token and the NIC's MAC there after bp.delay seconds.
cb=$(sed -n 's/.*bp\\.cb=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
if [ -n "$cb" ]; then
  for m in ${CALLBACK_MODULES.map((m) => m.replace(/^.*\//, '')).join(' ')}; do insmod /lib/modules/$m; done
  ip link set eth0 up
  udhcpc -i eth0 -n -q -t 20 -s /bin/udhcpc-script >/dev/null 2>&1
  token=$(sed -n 's/.*bp\\.token=\\([0-9a-f]*\\).*/\\1/p' /proc/cmdline)
  reason=$(sed -n 's/.*bp\\.reason=\\([a-z-]*\\).*/\\1/p' /proc/cmdline)
  delay=$(sed -n 's/.*bp\\.delay=\\([0-9]*\\).*/\\1/p' /proc/cmdline)
  sleep \${delay:-0}
  answer=$(wget -q -O - --post-data "token=$token&mac=$(cat /sys/class/net/eth0/address)&reason=$reason" "$cb" 2>&1)
  echo "BOOTPOLICY-E2E-CALLBACK rc=$? $answer"
fi
echo "${PAYLOAD_MARKER}"
# The serial driver sends from a buffer; the kernel prints "reboot: Power down" straight to the
# port, into the middle of what is left (seen: "BOOTPOLICY-E2E-M[ 1.8] reboot: Power down ARKER").
# Half a second drains a full 4 KiB buffer at 115200 baud.
sleep 0.5
poweroff -f
`
const UDHCPC_SCRIPT = `#!/bin/sh
[ "$1" = bound ] || exit 0
ip addr add "$ip/$mask" dev "$interface"
`
const APPLETS = ['sh', 'mount', 'cat', 'find', 'head', 'tr', 'poweroff', 'sed', 'insmod', 'ip', 'udhcpc', 'wget', 'sleep']

export function e2eCacheDir(): string {
  return process.env.BOOTPOLICY_E2E_CACHE || '/var/cache/bootpolicy-e2e'
}

/** The kernel arguments every scenario should pass (add your own after them). */
export function payloadKernelArgs(payload: Pick<BootPayload, 'initrdName'>, extra = ''): string {
  // initrd=: the UEFI stub panics without it; panic=-1 + QEMU -no-reboot: a panic ends the VM at once.
  return `initrd=${payload.initrdName} console=ttyS0 quiet panic=-1${extra ? ` ${extra}` : ''}`
}

export function parseMarkerReport(log: string): MarkerReport | undefined {
  if (!log.includes(PAYLOAD_MARKER)) return undefined
  const dmi: Record<string, string> = {}
  const files: Record<string, string> = {}
  let cmdline: string | undefined
  for (const line of log.split('\n')) {
    const c = /BOOTPOLICY-E2E-CMDLINE (.*)$/.exec(line) // not anchored: the console may glue escapes in front
    if (c) cmdline = (c[1] ?? '').trim()
    const d = /BOOTPOLICY-E2E-DMI (\w+)=(.*)$/.exec(line)
    if (d) dmi[d[1] as string] = (d[2] ?? '').trim()
    const f = /BOOTPOLICY-E2E-FILE (\S+) ?(.*)$/.exec(line)
    if (f) files[f[1] as string] = (f[2] ?? '').trim()
  }
  if (cmdline === undefined) return undefined
  return { cmdline, dmi, files }
}

const building = new Map<string, Promise<BootPayload>>()

/** Build (or find in the cache) the payload. Concurrent callers and processes share one result. */
export function buildBootPayload(options: BuildBootPayloadOptions = {}): Promise<BootPayload> {
  const memoKey = JSON.stringify(options)
  let pending = building.get(memoKey)
  if (!pending) {
    pending = build(options)
    building.set(memoKey, pending)
    pending.catch(() => building.delete(memoKey))
  }
  return pending
}

async function build(options: BuildBootPayloadOptions): Promise<BootPayload> {
  const cacheDir = options.cacheDir ?? e2eCacheDir()
  try {
    await mkdir(join(cacheDir, 'debs'), { recursive: true })
  } catch (err) {
    throw new Error(`e2e: cannot create the payload cache ${cacheDir}; set BOOTPOLICY_E2E_CACHE to a writable directory`, { cause: err })
  }
  requireCommand('dpkg-deb', 'dpkg')
  requireCommand('tar', 'tar')
  const busybox = requireFile(options.busybox ?? '/bin/busybox', 'busybox-static')
  if (!isStaticElf(busybox)) {
    throw new E2eMissingToolError('static busybox', 'busybox-static', `${busybox} is dynamically linked`)
  }
  const kernelDeb = findKernelDeb(cacheDir, options)

  const key = createHash('sha256')
    .update(JSON.stringify({ LAYOUT_VERSION, INIT_SCRIPT, APPLETS, UDHCPC_SCRIPT, CALLBACK_MODULES }))
    .update(await sha256File(kernelDeb))
    .update(await sha256File(busybox))
    .digest('hex')
  const dir = join(cacheDir, `payload-${key.slice(0, 16)}`)
  const manifestPath = join(dir, 'manifest.json')
  if (existsSync(manifestPath)) return JSON.parse(await readFile(manifestPath, 'utf8')) as BootPayload

  const tmp = join(cacheDir, `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`)
  try {
    await mkdir(join(tmp, 'deb'), { recursive: true })
    await extractKernel(kernelDeb, join(tmp, 'deb'))
    const boot = join(tmp, 'deb', 'boot')
    const vmlinuz = (await readdir(boot)).find((name) => name.startsWith('vmlinuz-'))
    if (!vmlinuz) throw new Error(`e2e: ${kernelDeb} holds no boot/vmlinuz-*`)
    await rename(join(boot, vmlinuz), join(tmp, 'vmlinuz'))
    const modulesDir = join(tmp, 'deb', 'lib', 'modules', vmlinuz.slice('vmlinuz-'.length))
    const modules = await Promise.all(CALLBACK_MODULES.map(async (m) => ({ name: basename(m), data: await readFile(join(modulesDir, m)) })))
    await rm(join(tmp, 'deb'), { recursive: true, force: true })

    const initrd = gzipSync(writeCpio(initramfsEntries(await readFile(busybox), modules)), { level: 9 })
    await writeFile(join(tmp, 'initrd.gz'), initrd)

    const payload: BootPayload = {
      dir,
      kernel: join(dir, 'vmlinuz'),
      initrd: join(dir, 'initrd.gz'),
      kernelName: 'vmlinuz',
      initrdName: 'initrd.gz',
      kernelVersion: vmlinuz.slice('vmlinuz-'.length),
      kernelDeb: basename(kernelDeb),
      key,
      sizes: { kernel: (await stat(join(tmp, 'vmlinuz'))).size, initrd: initrd.length },
    }
    await writeFile(join(tmp, 'manifest.json'), `${JSON.stringify(payload, null, 2)}\n`)
    try {
      await rename(tmp, dir)
    } catch (err) {
      // Another process won the race: its payload has the same key, so it is the same payload.
      if (!existsSync(manifestPath)) throw err
    }
    return payload
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
}

function initramfsEntries(busybox: Buffer, modules: readonly { name: string; data: Buffer }[]): CpioEntry[] {
  return [
    ...['bin', 'dev', 'proc', 'sys', 'bootpolicy', 'lib', 'lib/modules'].map((path): CpioEntry => ({ type: 'dir', path })),
    ...modules.map((m): CpioEntry => ({ type: 'file', path: `lib/modules/${m.name}`, data: m.data, mode: 0o644 })),
    { type: 'file', path: 'bin/udhcpc-script', data: UDHCPC_SCRIPT, mode: 0o755 },
    { type: 'char', path: 'dev/console', major: 5, minor: 1 },
    { type: 'char', path: 'dev/null', major: 1, minor: 3, mode: 0o666 },
    { type: 'file', path: 'bin/busybox', data: busybox, mode: 0o755 },
    ...APPLETS.map((applet): CpioEntry => ({ type: 'symlink', path: `bin/${applet}`, target: 'busybox' })),
    { type: 'file', path: 'init', data: INIT_SCRIPT, mode: 0o755 },
  ]
}

/** Pick the kernel .deb: explicit, then already downloaded (ours or apt's cache), then apt-get download. */
function findKernelDeb(cacheDir: string, options: BuildBootPayloadOptions): string {
  const explicit = options.kernelDeb ?? process.env.BOOTPOLICY_E2E_KERNEL_DEB
  if (explicit) return requireFile(explicit, 'linux-image-*-amd64 (.deb)')
  const wanted = options.kernelPackage ?? process.env.BOOTPOLICY_E2E_KERNEL_PKG
  const matches = (name: string): boolean => (wanted ? name.startsWith(`${wanted}_`) && name.endsWith('.deb') : /^linux-image-\d[^_]*-cloud-amd64_[^_]+_amd64\.deb$/.test(name))
  for (const dir of [join(cacheDir, 'debs'), APT_ARCHIVES]) {
    const found = listDir(dir)
      .filter(matches)
      .sort(new Intl.Collator('en', { numeric: true }).compare)
    const newest = found.at(-1)
    if (newest) return join(dir, newest)
  }
  const aptGet = requireCommand('apt-get', 'apt')
  const pkg = wanted ?? resolveMetaPackage(DEFAULT_KERNEL_META)
  const debs = join(cacheDir, 'debs')
  try {
    execFileSync(aptGet, ['download', pkg], { cwd: debs, stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 })
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '')
    throw new Error(`e2e: apt-get download ${pkg} failed (run apt-get update?): ${stderr.trim()}`, { cause: err })
  }
  const downloaded = listDir(debs).find((name) => name.startsWith(`${pkg}_`) && name.endsWith('.deb'))
  if (!downloaded) throw new Error(`e2e: apt-get download ${pkg} left no .deb in ${debs}`)
  return join(debs, downloaded)
}

/** linux-image-cloud-amd64 → linux-image-6.1.0-NN-cloud-amd64 (the package that holds the kernel). */
function resolveMetaPackage(meta: string): string {
  const aptCache = requireCommand('apt-cache', 'apt')
  const out = execFileSync(aptCache, ['depends', meta], { encoding: 'utf8' })
  const dep = /Depends:\s+(linux-image-\d\S*-amd64)/.exec(out)?.[1]
  if (!dep) throw new Error(`e2e: apt-cache depends ${meta} names no linux-image package (run apt-get update?)`)
  return dep
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}

/** dpkg-deb --fsys-tarfile DEB | tar -x ./boot/vmlinuz-* and the callback's modules — not the other modules. */
function extractKernel(deb: string, into: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const dpkg = spawn('dpkg-deb', ['--fsys-tarfile', deb], { stdio: ['ignore', 'pipe', 'pipe'] })
    const tar = spawn('tar', ['-x', '-C', into, '--wildcards', './boot/vmlinuz-*', ...CALLBACK_MODULES.map((m) => `./lib/modules/*/${m}`)], { stdio: ['pipe', 'ignore', 'pipe'] })
    dpkg.stdout.pipe(tar.stdin)
    let stderr = ''
    dpkg.stderr.on('data', (b: Buffer) => (stderr += b))
    tar.stderr.on('data', (b: Buffer) => (stderr += b))
    let pending = 2
    let failed = false
    const done = (what: string) => (code: number | null) => {
      if (code !== 0 && !failed) {
        failed = true
        reject(new Error(`e2e: ${what} exited ${code} extracting ${deb}: ${stderr.trim()}`))
      }
      if (--pending === 0 && !failed) resolve()
    }
    dpkg.on('error', reject).on('close', done('dpkg-deb'))
    tar.on('error', reject).on('close', done('tar'))
  })
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256')
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')))
  })
}
