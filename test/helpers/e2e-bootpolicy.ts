/**
 * bootpolicy as the only boot server inside a TestNet: its own full-mode DHCP on the bridge, its
 * own TFTP (Debian's iPXE binaries for clients whose NIC ROM is not iPXE) and its own HTTP
 * (bootstrap, /boot, /files). Started as a real `bin/bootpolicy.js serve --config <file>` process
 * through the net's process helper, so it dies with the namespace whatever happens to the test.
 *
 * Its stdout is pino JSON, one object per line: `decisions()` returns the decision log (the
 * `decision` field of every line whose msg is 'decision'), `dhcpReplies()` and `tftpTransfers()`
 * the DHCP and TFTP facts the scenarios assert on.
 *
 * bin/bootpolicy.js runs dist/: after changing core/, run `npm run build` (a stale dist/ is
 * reported on stderr, a missing one is an error).
 */
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BootContext } from '../../core/context/types.js'
import type { DecisionRecord } from '../../core/engine/decision-record.js'
import { type BootPayload, type MarkerReport, parseMarkerReport, PAYLOAD_MARKER } from './boot-payload.js'
import type { TestNet } from './e2e-net.js'
import type { OwnedProcess } from './e2e-process.js'
import { tail } from './e2e-process.js'
import { requireFile } from './e2e-require.js'
import { suiteState } from './suite-state.js'
import { BOOT_FAILURES, type BootResult, type QemuOptions, startQemu } from './qemu.js'
import type { BootMilestones } from './qemu-serial.js'

const HERE = dirname(fileURLToPath(import.meta.url))
export const REPO_ROOT = resolve(HERE, '..', '..')
const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'e2e')
const IPXE_DIR = '/usr/lib/ipxe'

/** The iPXE binaries a server can hand a plain PXE client over TFTP (Debian package `ipxe`). */
export type IpxeBinary = 'undionly.kpxe' | 'ipxe.efi' | 'snponly.efi'

export interface BootpolicyServerOptions {
  readonly net: TestNet
  /** Scenario name: policies come from test/fixtures/e2e/<scenario>/policies (or `policiesDir`). */
  readonly scenario: string
  readonly policiesDir?: string
  /** Served at /files/: the payload's vmlinuz and initrd.gz, plus `extraFiles`. */
  readonly payload: BootPayload
  /** More files under /files/: name (may contain `/`) → source path or contents. */
  readonly extraFiles?: Readonly<Record<string, string | { readonly text: string }>>
  /**
   * TFTP root contents, copied from /usr/lib/ipxe (default all three; [] turns TFTP off).
   * Copies, not symlinks: the safe-path resolver refuses symlinks that leave the root.
   */
  readonly tftpFiles?: readonly IpxeBinary[]
  /** dhcp.boot.archMap (default: bootpolicy's own, i.e. 0 → undionly.kpxe, 7/9 → ipxe.efi). */
  readonly archMap?: Readonly<Record<string, string>>
  /** Config keys merged over the generated config (one level deep per section). */
  readonly config?: Readonly<Record<string, unknown>>
  /** Process and log name (default `bootpolicy`). */
  readonly name?: string
  /** Wait this long for the ready line (default 90 s: the start-up type check took over 30 s at load 20–30). */
  readonly readyTimeoutMs?: number
  /**
   * Run bootpolicy through this command inside the namespace (default none), e.g.
   * `['nsenter', '--mount=/proc/<pid>/ns/mnt', '--']` to share another process's mount namespace:
   * every `ip netns exec` gets a private one, so a FUSE mount made by bootpolicy's children is
   * invisible to a tgtd started separately (test/e2e/bootpolicy-iscsi-sanboot.test.ts).
   */
  readonly spawnPrefix?: readonly string[]
}

/** One pino line of the server's stdout. */
export interface LogLine {
  readonly level: number
  readonly time: number
  readonly msg: string
  readonly [key: string]: unknown
}

export interface DhcpReplyLog {
  readonly mac: string
  readonly reply: string
  readonly arch: string
  readonly clientArchCode?: number
  readonly vendorClass?: string
  readonly isIpxe: boolean
  readonly yiaddr?: string
  readonly bootfile?: string
  readonly reason?: string
}

export interface TftpTransferLog {
  readonly file: string
  readonly bytes?: number
  readonly ms?: number
  readonly client: string
}

export interface BootpolicyServer {
  /** http://<serverIp>:8080 */
  readonly url: string
  readonly process: OwnedProcess
  readonly configFile: string
  readonly config: Readonly<Record<string, unknown>>
  /** ms from spawn to the "bootpolicy is serving" line. */
  readonly readyMs: number
  /** Every JSON line logged so far. */
  logLines(): LogLine[]
  /** The decision log: one record per /boot request, in order. */
  decisions(): DecisionRecord[]
  /** Decisions whose context has this MAC. */
  decisionsFor(mac: string): DecisionRecord[]
  /** DHCP replies (debug level 'dhcp reply' lines). */
  dhcpReplies(): DhcpReplyLog[]
  /** Completed TFTP transfers. */
  tftpTransfers(): TftpTransferLog[]
  /** HTTP requests as fastify logged them ('request completed'), in order of completion. */
  httpRequests(): { method: string; url: string; status: number }[]
  /** Lines at warn level or above (40+). */
  problems(): LogLine[]
  stop(): Promise<void>
}

/** Path of the fixture policies for a scenario. */
export function scenarioPolicies(scenario: string): string {
  return join(FIXTURES, scenario, 'policies')
}

/** Fail at once when dist/ is missing; say so when core/ has changed since the last build. */
export function checkBuilt(): string {
  const main = join(REPO_ROOT, 'dist', 'core', 'cli', 'main.js')
  if (!existsSync(main)) throw new Error(`e2e: ${main} is missing; run \`npm run build\` (bin/bootpolicy.js runs dist/)`)
  const built = statSync(main).mtimeMs
  const newer = newestTs(join(REPO_ROOT, 'core'))
  if (newer && newer.mtimeMs > built + 1000) {
    process.stderr.write(`e2e: warning: ${newer.path} is newer than dist/; run \`npm run build\` to test the current core\n`)
  }
  return join(REPO_ROOT, 'bin', 'bootpolicy.js')
}

function newestTs(dir: string): { path: string; mtimeMs: number } | undefined {
  let best: { path: string; mtimeMs: number } | undefined
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name)
    const found = entry.isDirectory() ? newestTs(p) : entry.name.endsWith('.ts') ? { path: p, mtimeMs: statSync(p).mtimeMs } : undefined
    if (found && (!best || found.mtimeMs > best.mtimeMs)) best = found
  }
  return best
}

/** Hard link when on the same file system (no 14 MB copy), else copy. Never a symlink (see tftpFiles). */
function placeFile(source: string, target: string): void {
  mkdirSync(dirname(target), { recursive: true })
  try {
    linkSync(source, target)
  } catch {
    copyFileSync(source, target)
  }
}

export function bootpolicyConfig(options: BootpolicyServerOptions, dirs: { files: string; tftp: string; state: string }): Record<string, unknown> {
  const { net } = options
  const tftpOn = (options.tftpFiles ?? ['undionly.kpxe', 'ipxe.efi', 'snponly.efi']).length > 0
  const base: Record<string, Record<string, unknown>> = {
    http: { host: net.serverIp, port: 8080 },
    policies: { dir: options.policiesDir ?? scenarioPolicies(options.scenario), watch: false },
    templates: { dir: join(REPO_ROOT, 'templates') },
    files: { dir: dirs.files },
    // debug: the 'dhcp reply' lines (boot file and the reason it was chosen) are debug.
    log: { level: 'debug' },
    dhcp: {
      mode: 'full',
      interface: net.bridge,
      serverAddress: net.serverIp,
      pool: net.pool,
      subnetMask: net.netmask,
      leaseSeconds: 3600,
      boot: {
        httpPort: 8080,
        ipxeNoPxeDhcp: true,
        ...(options.archMap ? { archMap: options.archMap } : {}),
      },
    },
    tftp: { enabled: tftpOn, address: net.serverIp, port: 69, root: dirs.tftp },
  }
  const config: Record<string, unknown> = { ...base, stateDir: dirs.state }
  for (const [key, value] of Object.entries(options.config ?? {})) {
    const current = config[key]
    config[key] = value && typeof value === 'object' && !Array.isArray(value) && current && typeof current === 'object' ? { ...(current as object), ...(value as object) } : value
  }
  // BOOTPOLICY_TEST_STATE=postgres: the server runs in the net's namespace, so over the unix socket.
  const state = config.state === undefined ? suiteState(dirs.state, { socket: true }) : undefined
  return state ? { ...config, state } : config
}

/**
 * Give the bridge a carrier while bootpolicy starts: a veth pair with one end on br0, both up.
 * Returns a function that removes it again.
 *
 * Why: the TestNet's bridge has no carrier until a VM's tap is attached (NO-CARRIER, state DOWN),
 * and bootpolicy resolves `dhcp.interface` once, at start, with os.networkInterfaces(), which
 * (libuv) omits every interface that is not IFF_RUNNING — so `interface: br0` fails with
 * BP_ERR_DHCP_BIND "interface br0 (no IPv4 address)" (core/dhcp/udp-transport.ts resolveIdentity).
 * A real server's boot NIC normally has link; this makes the bridge look like one for that moment.
 * The veth must go afterwards: the bridge floods broadcasts into it, the other end is in the same
 * namespace, and the server's 0.0.0.0:67 socket would receive every DHCP packet twice.
 */
export async function bridgeCarrier(net: TestNet): Promise<() => Promise<void>> {
  const links = await net.exec('ip', ['-o', 'link', 'show'])
  const remove = async (): Promise<void> => void (await net.exec('ip', ['link', 'del', 'bpcarrier0']).catch(() => undefined))
  if (links.includes('bpcarrier0')) await remove()
  await net.exec('ip', ['link', 'add', 'bpcarrier0', 'type', 'veth', 'peer', 'name', 'bpcarrier1'])
  await net.exec('ip', ['link', 'set', 'bpcarrier0', 'master', net.bridge])
  for (const dev of ['bpcarrier0', 'bpcarrier1']) await net.exec('ip', ['link', 'set', dev, 'up'])
  for (let i = 0; i < 50; i++) {
    if (!(await net.exec('ip', ['-o', 'link', 'show', net.bridge])).includes('NO-CARRIER')) return remove
    await new Promise((r) => setTimeout(r, 20))
  }
  await remove()
  throw new Error(`e2e: ${net.bridge} in ${net.name} still has no carrier after adding a veth port`)
}

export async function startBootpolicy(options: BootpolicyServerOptions): Promise<BootpolicyServer> {
  const { net, payload } = options
  checkBuilt()
  const name = options.name ?? 'bootpolicy'
  const root = join(net.dir, name)
  const dirs = { files: join(root, 'files'), tftp: join(root, 'tftp'), state: join(root, 'state') }
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true })

  placeFile(payload.kernel, join(dirs.files, payload.kernelName))
  placeFile(payload.initrd, join(dirs.files, payload.initrdName))
  for (const [file, source] of Object.entries(options.extraFiles ?? {})) {
    const target = join(dirs.files, file)
    if (typeof source === 'string') placeFile(source, target)
    else {
      mkdirSync(dirname(target), { recursive: true })
      writeFileSync(target, source.text)
    }
  }
  for (const file of options.tftpFiles ?? ['undionly.kpxe', 'ipxe.efi', 'snponly.efi']) {
    copyFileSync(requireFile(join(IPXE_DIR, file), 'ipxe'), join(dirs.tftp, basename(file)))
  }
  const policiesDir = options.policiesDir ?? scenarioPolicies(options.scenario)
  if (!existsSync(policiesDir)) throw new Error(`e2e: no policies for scenario ${options.scenario}: ${policiesDir}`)

  const config = bootpolicyConfig(options, dirs)
  const configFile = join(root, 'bootpolicy.json')
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`)

  return serveConfig({ net, configFile, config, name, url: `http://${net.serverIp}:8080`, ...pick(options, 'spawnPrefix', 'readyTimeoutMs') })
}

function pick<T extends object, K extends keyof T>(o: T, ...keys: K[]): Partial<Pick<T, K>> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])) as Partial<Pick<T, K>>
}

/**
 * Start `bootpolicy serve --config <configFile>` in the net (with a carrier on the bridge until it
 * is ready) and read its log: startBootpolicy's generated config, or a config a test wrote itself
 * (a migration guide's, startGuideBootpolicy).
 */
export async function serveConfig(options: {
  readonly net: TestNet
  readonly configFile: string
  readonly config: Readonly<Record<string, unknown>>
  readonly name: string
  /** The server's base URL, e.g. http://<serverIp>:8080 */
  readonly url: string
  readonly spawnPrefix?: readonly string[]
  readonly readyTimeoutMs?: number
}): Promise<BootpolicyServer> {
  const { net, configFile, config, name } = options
  const bin = checkBuilt()
  const removeCarrier = await bridgeCarrier(net)
  const argv = [...(options.spawnPrefix ?? []), process.execPath, '--no-node-snapshot', bin, 'serve', '--config', configFile]
  const proc = net.spawn(name, argv[0]!, argv.slice(1), { cwd: REPO_ROOT })
  let readyMs: number
  try {
    readyMs = Math.round((await proc.waitForOutput(/bootpolicy is serving https?:\/\/\S+/, options.readyTimeoutMs ?? 90_000)).atMs)
  } catch (err) {
    await proc.stop()
    throw new Error(`e2e: bootpolicy did not start (config ${configFile}, log ${proc.logFile}): ${(err as Error).message}`, { cause: err })
  } finally {
    await removeCarrier()
  }

  const logLines = (): LogLine[] => {
    const out: LogLine[] = []
    for (const line of proc.output().split('\n')) {
      if (!line.startsWith('{')) continue
      try {
        // The process helper decodes output as latin1; pino writes UTF-8.
        out.push(JSON.parse(Buffer.from(line, 'latin1').toString('utf8')) as LogLine)
      } catch {
        // a line still being written
      }
    }
    return out
  }
  const decisions = (): DecisionRecord[] =>
    logLines()
      .filter((l) => l.msg === 'decision')
      .map((l) => l.decision as DecisionRecord)

  return {
    url: options.url,
    process: proc,
    configFile,
    config,
    readyMs,
    logLines,
    decisions,
    decisionsFor: (mac) => decisions().filter((d) => (d.context as BootContext).mac === mac),
    dhcpReplies: () =>
      logLines()
        .filter((l) => l.msg === 'dhcp reply')
        .map((l) => {
          const c = l.client as Record<string, unknown>
          return {
            mac: c.mac as string,
            reply: String(l.reply),
            arch: c.arch as string,
            isIpxe: c.isIpxe as boolean,
            ...(c.clientArchCode !== undefined ? { clientArchCode: c.clientArchCode as number } : {}),
            ...(c.vendorClass !== undefined ? { vendorClass: c.vendorClass as string } : {}),
            ...(l.yiaddr !== undefined ? { yiaddr: l.yiaddr as string } : {}),
            ...(l.bootfile !== undefined ? { bootfile: l.bootfile as string } : {}),
            ...(l.reason !== undefined ? { reason: l.reason as string } : {}),
          }
        }),
    tftpTransfers: () =>
      logLines()
        .filter((l) => l.msg === 'tftp transfer complete')
        .map((l) => ({
          file: (l.request as { file: string }).file,
          client: (l.client as { address: string }).address,
          ...(typeof l.bytes === 'number' ? { bytes: l.bytes } : {}),
          ...(typeof l.ms === 'number' ? { ms: l.ms } : {}),
        })),
    httpRequests: () =>
      logLines()
        .filter((l) => l.msg === 'request completed')
        .map((l) => {
          const req = l.req as { method: string; url: string }
          return { method: req.method, url: req.url, status: l.statusCode as number }
        }),
    problems: () => logLines().filter((l) => l.level >= 40),
    stop: async () => void (await proc.stop()),
  }
}

/** For error messages: the server's last log lines. */
export function serverTail(server: BootpolicyServer): string {
  return `bootpolicy log (${server.process.logFile}):\n${tail(server.process.output(), 3000)}`
}

/**
 * The kernel arguments the payload needs (see payloadKernelArgs), as a policy's `args` list with
 * `initrd=` first: the renderer then adds no second one, and the command line equals the baseline's.
 */
export function payloadArgList(payload: Pick<BootPayload, 'initrdName'>, ...extra: string[]): string[] {
  return [`initrd=${payload.initrdName}`, 'console=ttyS0', 'quiet', 'panic=-1', ...extra]
}

/**
 * parseMarkerReport, tolerant of a report line that does not start a line. Seen here on BIOS boots
 * (dnsmasq baseline and bootpolicy alike, more often under load): the raw console reads
 * `/files/initrd.gz... o` ESC c ESC [?7l ESC [2J `BOOTPOLICY-E2E-CMDLINE …` — iPXE's "ok" and its
 * newline never arrive, the terminal-reset escapes follow, and cleanSerial (which drops escapes)
 * leaves `…initrd.gz... oBOOTPOLICY-E2E-CMDLINE …` on one line. The anchored
 * `^BOOTPOLICY-E2E-CMDLINE` in parseMarkerReport then finds nothing and bootToMarker throws
 * "marker seen but no report lines" although the boot worked.
 */
export function parseMarkerReportTolerant(log: string): MarkerReport | undefined {
  return parseMarkerReport(log.replace(/([^\n])(BOOTPOLICY-E2E-(?:CMDLINE|DMI|FILE|MARKER))/g, '$1\n$2'))
}

/** bootToMarker (qemu.ts) with parseMarkerReportTolerant; same options, same result. */
export async function bootToMarkerTolerant(options: QemuOptions & { readonly timeoutMs?: number; readonly failOn?: RegExp }): Promise<BootResult> {
  const vm = await startQemu(options)
  try {
    const { atMs } = await vm.waitFor(new RegExp(PAYLOAD_MARKER), options.timeoutMs ?? 120_000, { failOn: options.failOn ?? BOOT_FAILURES })
    const exit = await vm.waitForExit(10_000).catch(() => undefined)
    const log = vm.log()
    const report = parseMarkerReportTolerant(log)
    if (!report) throw new Error(`${vm.process.name}: marker seen but no report lines; log:\n${tail(log)}`)
    const milestones = Object.fromEntries(Object.entries(vm.milestones()).map(([k, v]) => [k, Math.round(v as number)])) as BootMilestones
    return {
      firmware: options.firmware,
      markerMs: Math.round(atMs),
      exitMs: exit && Math.round(exit.atMs),
      report,
      milestones,
      lines: vm.lines(),
      log,
      logFile: vm.process.logFile,
    }
  } finally {
    await vm.stop()
  }
}
