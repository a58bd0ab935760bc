/**
 * The two boot stacks a storm runs against, on one LAN (test/helpers/netns.ts) with the server in
 * `srv` and the generator in `cli`:
 *  - bootpolicy: `bootpolicy serve` as an operator runs it, full-mode DHCP + TFTP + /files, the
 *    default configuration otherwise (log level info into a file), one policy that boots the
 *    kernel and initrd;
 *  - the reference: dnsmasq (DHCP with a persisted lease file, TFTP) and nginx (the same files, the
 *    same bootstrap text, a static boot script), each told about the storm's size as an operator
 *    of a 1,000-machine LAN would (dhcp-lease-max, tftp-max, worker_connections).
 * Both hand firmware clients undionly.kpxe (arch 0) or ipxe.efi (arch 7) and iPXE the bootstrap.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bootstrapScript } from '../../core/http/routes/boot.js'
import { checkBuilt, REPO_ROOT } from '../../test/helpers/e2e-bootpolicy.js'
import { requireFile } from '../../test/helpers/e2e-require.js'
import { startDnsmasqDhcp } from '../../test/helpers/dnsmasq-dhcp.js'
import { requireTool, type Lan } from '../../test/helpers/netns.js'

export const NET = {
  server: '10.60.0.1',
  generator: '10.60.0.9',
  prefixLength: 16,
  mask: '255.255.0.0',
  pool: { start: '10.60.1.0', end: '10.60.31.255' },
} as const

export interface StormFiles {
  readonly dir: string
  readonly kernelBytes: number
  readonly initrdBytes: number
  /** TFTP boot file → size. */
  readonly tftpSizes: Readonly<Record<string, number>>
  remove(): void
}

export interface ServerFacts {
  /** Decision-log lines: one per /boot request. */
  readonly decisions: number
  /** Server-side wall time of each decision (the decision record's wallUs), ms. */
  readonly decisionWallMs: number[]
  /** Server-side time of each completed TFTP transfer, ms. */
  readonly tftpMs: number[]
}

function bootpolicyFacts(log: string): ServerFacts {
  const decisionWallMs: number[] = []
  const tftpMs: number[] = []
  let decisions = 0
  for (const line of log.split('\n')) {
    if (line.includes('"msg":"decision"')) {
      decisions++
      const us = /"wallUs":(\d+)/.exec(line)?.[1]
      if (us) decisionWallMs.push(Number(us) / 1000)
    } else if (line.includes('"msg":"tftp transfer complete"')) {
      const ms = /"ms":([\d.]+)/.exec(line)?.[1]
      if (ms) tftpMs.push(Number(ms))
    }
  }
  return { decisions, decisionWallMs, tftpMs }
}

export interface Stack {
  readonly name: string
  /** What the stack logged or printed, for error messages. */
  tail(): string
  /** What the server's own log says (bootpolicy's decision log and TFTP lines; the reference logs neither). */
  facts(): ServerFacts
  stop(): Promise<void>
}

/** World-readable (nginx workers run as www-data) files: kernel, initrd, iPXE binaries. */
export function makeStormFiles(kernelBytes: number, initrdBytes: number): StormFiles {
  const dir = mkdtempSync(join(tmpdir(), 'bp-storm-'))
  chmodSync(dir, 0o755)
  for (const sub of ['files', 'tftp']) mkdirSync(join(dir, sub), { mode: 0o755 })
  writeFileSync(join(dir, 'files', 'vmlinuz'), randomBytes(kernelBytes), { mode: 0o644 })
  writeFileSync(join(dir, 'files', 'initrd.img'), randomBytes(initrdBytes), { mode: 0o644 })
  const tftpSizes: Record<string, number> = {}
  for (const f of ['undionly.kpxe', 'ipxe.efi']) {
    // Copies: Debian's files may be symlinks out of the root, which bootpolicy's TFTP refuses.
    copyFileSync(requireFile(join('/usr/lib/ipxe', f), 'ipxe'), join(dir, 'tftp', f))
    chmodSync(join(dir, 'tftp', f), 0o644)
    tftpSizes[f] = readFileSync(join(dir, 'tftp', f)).length
  }
  return { dir, kernelBytes, initrdBytes, tftpSizes, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/** The kernel args both stacks' boot scripts carry (initrd= first, as UEFI needs). */
const ARGS = 'initrd=initrd.img console=ttyS0 quiet'

const POLICY = `/** Boot storm: every machine boots the same kernel and initrd. */
import { boot, type Decision } from 'bootpolicy/policy'

export default function storm(): Decision {
  return boot('/files/vmlinuz', { initrds: ['/files/initrd.img'], args: ${JSON.stringify(ARGS.split(' '))} })
}
`

async function waitFor(what: string, check: () => boolean, output: () => string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} did not start within ${timeoutMs} ms:\n${output().slice(-3000)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Raise the server namespace's ARP table limits: a storm of N clients needs N neighbour entries. */
async function neighbourRoom(lan: Lan, host: string): Promise<void> {
  for (const [k, v] of [
    ['gc_thresh1', '4096'],
    ['gc_thresh2', '8192'],
    ['gc_thresh3', '16384'],
  ]) {
    await lan.exec(host, 'sysctl', ['-q', '-w', `net.ipv4.neigh.default.${k}=${v}`]).catch(() => undefined)
  }
}

/** `overrides`: config sections merged over the storm's config one level deep (limits sized for a storm). */
export async function startBootpolicyStack(lan: Lan, files: StormFiles, overrides: Readonly<Record<string, Record<string, unknown>>> = {}): Promise<Stack> {
  const bin = checkBuilt()
  await neighbourRoom(lan, 'srv')
  const root = join(files.dir, 'bootpolicy')
  rmSync(root, { recursive: true, force: true })
  mkdirSync(join(root, 'policies'), { recursive: true })
  writeFileSync(join(root, 'policies', 'storm.ts'), POLICY)
  const config = {
    policies: { dir: join(root, 'policies') },
    files: { dir: join(files.dir, 'files') },
    stateDir: join(root, 'state'),
    dhcp: { mode: 'full', interface: 'eth0', serverAddress: NET.server, pool: NET.pool, subnetMask: NET.mask, leaseSeconds: 3600 },
    tftp: { enabled: true, address: NET.server, root: join(files.dir, 'tftp') },
  }
  const merged: Record<string, unknown> = { ...config }
  for (const [k, v] of Object.entries(overrides)) merged[k] = { ...((merged[k] as object | undefined) ?? {}), ...v }
  const configFile = join(root, 'bootpolicy.json')
  writeFileSync(configFile, `${JSON.stringify(merged, null, 2)}\n`)
  const logFile = join(root, 'bootpolicy.log')
  const fd = openSync(logFile, 'w')
  const child = lan.spawn('srv', process.execPath, ['--no-node-snapshot', bin, 'serve', '--config', configFile], { cwd: REPO_ROOT, stdio: ['ignore', fd, fd] })
  closeSync(fd)
  const log = (): string => readFileSync(logFile, 'utf8')
  await waitFor(
    'bootpolicy',
    () => child.exitCode === null && log().includes('bootpolicy is serving'),
    () => `exit ${child.exitCode}\n${log()}`,
  )
  return {
    name: 'bootpolicy',
    tail: () => log().slice(-3000),
    facts: () => bootpolicyFacts(log()),
    stop: async () => {
      if (child.exitCode !== null) return
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await exited
    },
  }
}

export async function startReferenceStack(lan: Lan, files: StormFiles): Promise<Stack> {
  const nginx = requireTool('nginx', 'apt-get install nginx-light')
  await neighbourRoom(lan, 'srv')
  const root = join(files.dir, 'reference')
  rmSync(root, { recursive: true, force: true })
  mkdirSync(join(root, 'www'), { recursive: true, mode: 0o755 })
  chmodSync(root, 0o755)
  writeFileSync(join(root, 'www', 'boot.ipxe'), bootstrapScript('/boot'), { mode: 0o644 })
  writeFileSync(join(root, 'www', 'boot'), `#!ipxe\nkernel /files/vmlinuz ${ARGS}\ninitrd --name initrd.img /files/initrd.img\nboot\n`, { mode: 0o644 })
  const conf = join(root, 'nginx.conf')
  writeFileSync(
    conf,
    [
      'user www-data;',
      'worker_processes auto;',
      'daemon off;',
      `pid ${join(root, 'nginx.pid')};`,
      `error_log ${join(root, 'error.log')} warn;`,
      'events { worker_connections 8192; }',
      'http {',
      `  access_log ${join(root, 'access.log')};`,
      '  sendfile on; tcp_nopush on; keepalive_timeout 65;',
      '  default_type text/plain;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(root, `${t}-temp`)};`),
      `  server { listen ${NET.server}:80; root ${join(root, 'www')}; location /files/ { alias ${join(files.dir, 'files')}/; } }`,
      '}',
      '',
    ].join('\n'),
  )
  await lan.exec('srv', nginx, ['-t', '-q', '-c', conf])
  const web = lan.spawn('srv', nginx, ['-c', conf])
  let webOut = ''
  web.stderr!.on('data', (c: Buffer) => (webOut += c.toString()))
  web.stdout!.on('data', (c: Buffer) => (webOut += c.toString()))
  const dhcp = await startDnsmasqDhcp(lan, 'srv', {
    rangeStart: NET.pool.start,
    rangeEnd: NET.pool.end,
    netmask: NET.mask,
    log: false,
    extra: [
      '--dhcp-lease-max=65536',
      '--enable-tftp',
      `--tftp-root=${join(files.dir, 'tftp')}`,
      '--tftp-max=4096',
      '--dhcp-match=set:ipxe,175',
      '--dhcp-match=set:efi,option:client-arch,7',
      `--dhcp-boot=tag:ipxe,http://${NET.server}/boot.ipxe`,
      '--dhcp-boot=tag:!ipxe,tag:efi,ipxe.efi',
      '--dhcp-boot=tag:!ipxe,tag:!efi,undionly.kpxe',
    ],
  })
  // nginx is ready when its port answers; the generator's first HTTP request comes seconds later anyway.
  await waitFor(
    'nginx',
    () => {
      if (web.exitCode !== null) return false
      try {
        return execFileSync('ip', ['netns', 'exec', lan.host('srv').ns, 'ss', '-Hltn', 'sport = :80'], { encoding: 'utf8' }).includes(':80')
      } catch {
        return false
      }
    },
    () => webOut,
  )
  return {
    name: 'reference',
    facts: () => ({ decisions: 0, decisionWallMs: [], tftpMs: [] }),
    tail: () => `${dhcp.output().slice(-1500)}\n${webOut.slice(-1500)}`,
    stop: async () => {
      await dhcp.stop()
      if (web.exitCode === null) {
        const exited = new Promise((r) => web.once('exit', r))
        web.kill('SIGQUIT')
        await exited
      }
    },
  }
}
