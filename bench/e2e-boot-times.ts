/**
 * Real-iPXE boot times: QEMU start → the payload's marker line, with bootpolicy as the only server
 * (its DHCP, TFTP and HTTP; the e2e scenarios' policies) next to the same boot served by dnsmasq +
 * a static HTTP server (runBaselineBoot, see baselineSample), measured in the same run, interleaved sample by sample
 * so that load drift hits both sides alike. Median of N samples (default 3; BOOTPOLICY_E2E_BENCH_SAMPLES).
 * Every sample is a fresh namespace and server, on both sides; setup is not part of the figure.
 *
 * Seeds 001/002 run in their own topology (site DHCP + bootpolicy proxy, the guides' configs,
 * through their menus: the key is pressed as soon as the menu is drawn). Seed 001's rows are
 * compared with seed 001's own site in that topology, booted through the same menu and key
 * (router DHCP + dnsmasq proxyDHCP + a static menu, e2e-seed-reference.ts); seed 002's with the
 * same in its pfSense topology (its original, a custom iPXE build with an embedded script, cannot
 * be built here). OVMF's HTTP boot is compared with OVMF's PXE + snponly.efi under dnsmasq
 * (the closest reference path).
 * Needs root and the e2e packages (docs/guides/e2e-tests.md). ~10 min on 2 cores with 3 samples.
 *   node --no-node-snapshot --import tsx bench/e2e-boot-times.ts [--samples N] [--only name,…]
 *   BOOTPOLICY_E2E_BENCH_ONLY=name,… npm run bench -- e2e-boot-times   # rewrites only those rows
 */
import { buildBootPayload, type BootPayload } from '../test/helpers/boot-payload.js'
import { runBaselineBoot } from '../test/helpers/e2e-baseline.js'
import { bootToMarkerTolerant, type IpxeBinary, startBootpolicy } from '../test/helpers/e2e-bootpolicy.js'
import { createTestNet, type TestNet } from '../test/helpers/e2e-net.js'
import { bootThroughMenu, startSeed001Site, startSeed002Site } from '../test/helpers/e2e-seed-sites.js'
import { startSeed001Reference, startSeed002Reference } from '../test/helpers/e2e-seed-reference.js'
import { startSiteDhcp } from '../test/helpers/e2e-site-dhcp.js'
import { RESCUE_UEFI_MAC, startSmartosSysresccdSite } from '../test/helpers/e2e-plugin-sites.js'
import { OVMF_NO_PXE } from '../test/helpers/qemu-ovmf.js'
import { ISC_GUIDE, PXELINUX_FAILURES, PXELINUX_GUIDE, startIscGuideSite, startPxelinuxGuideSite } from '../test/helpers/e2e-guide-sites.js'
import type { Firmware, Smbios } from '../test/helpers/qemu.js'
import { EXPECTED as ODD } from '../test/fixtures/e2e/odd-identities/policies/20-odd.js'
import type { BenchResult, Figure } from './lib.js'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../core/config/load-config.js'

interface Baseline {
  readonly firmware: Firmware
  /** uefi-pxe: what OVMF's PXE client loads over TFTP. */
  readonly efiBootFile?: IpxeBinary
  /** bios: through lpxelinux as the guide sites boot (runBaselineBoot's `pxelinux`). */
  readonly pxelinux?: 'menu' | 'plain'
  /** The seed's site without bootpolicy (e2e-seed-reference.ts): router DHCP + dnsmasq proxyDHCP + a static menu, booted through it. */
  readonly seed?: '001' | '002'
}

interface Case {
  readonly name: string
  readonly scenario: string
  readonly firmware: Firmware
  readonly mac: string
  readonly smbios?: Smbios
  readonly efiNbp?: IpxeBinary
  /** Must appear on the kernel command line, or the sample is an error. */
  readonly expect: string
  readonly baseline: Baseline
  /** ms the scenario waits on purpose (a menu timeout): subtracted before the ratio. */
  readonly deliberateMs?: number
  /** A scenario with its own topology (seeds 001/002, HTTP boot): replaces the generic sample. */
  readonly sample?: (payload: BootPayload) => Promise<{ markerMs: number; setupMs: number }>
  /** A migration guide's site (test/helpers/e2e-guide-sites.ts) instead of a fixture scenario. */
  readonly guide?: 'pxelinux' | 'isc'
}

/**
 * A seed site (guide config, site DHCP in a router namespace, bootpolicy proxy), or the seed's own
 * site before bootpolicy (e2e-seed-reference.ts), booted through its menu.
 */
function seedSample(
  start: (net: TestNet, payload: BootPayload) => Promise<{ close(): Promise<void> }>,
  firmware: Firmware,
  mac: string,
  menu: RegExp,
  key: string,
  expect: string,
): (payload: BootPayload) => Promise<{ markerMs: number; setupMs: number }> {
  return async (payload) => {
    const t0 = performance.now()
    const net = await createTestNet()
    let ok = false
    try {
      const site = await start(net, payload)
      const setupMs = Math.round(performance.now() - t0)
      try {
        const boot = await bootThroughMenu({ net, firmware, mac, menu, key, timeoutMs: 120_000 })
        if (!boot.report?.cmdline.includes(expect)) throw new Error(`cmdline ${JSON.stringify(boot.report?.cmdline)} lacks ${expect}`)
        ok = true
        return { markerMs: boot.markerMs!, setupMs }
      } finally {
        await site.close()
      }
    } finally {
      await net.close({ keepLogs: !ok })
    }
  }
}

/**
 * OVMF's own HTTP client (PXE options off): HTTPClient → snponly.efi by URL → iPXE → /boot.ipxe.
 * `full`: bootpolicy is the DHCP server; `proxy`: a site router (dnsmasq) leases the address and
 * bootpolicy's proxy offer carries the URL (test/e2e/bootpolicy-uefi-http-boot-proxy.test.ts).
 */
function httpBootSample(mode: 'full' | 'proxy'): (payload: BootPayload) => Promise<{ markerMs: number; setupMs: number }> {
  return async (payload) => {
    const t0 = performance.now()
    const net = await createTestNet()
    let ok = false
    try {
      const site = mode === 'proxy' ? await startSiteDhcp(net) : undefined
      try {
        await startBootpolicy({
          net,
          scenario: 'arch-dispatch',
          payload,
          tftpFiles: [],
          extraFiles: { 'snponly.efi': '/usr/lib/ipxe/snponly.efi' },
          config: {
            dhcp:
              mode === 'proxy'
                ? { mode: 'proxy', interface: net.bridge, serverAddress: net.serverIp, boot: { httpPort: 8080, archMap: { 16: 'snponly.efi' } } }
                : { boot: { httpPort: 8080, ipxeNoPxeDhcp: true, archMap: { 16: 'snponly.efi' } } },
          },
        })
        const setupMs = Math.round(performance.now() - t0)
        const boot = await bootToMarkerTolerant({ net, firmware: 'uefi-pxe', mac: '52:54:00:e2:06:01', timeoutMs: 180_000, extraArgs: OVMF_NO_PXE })
        if (!boot.report.cmdline.includes('arch=x86_64-efi')) throw new Error(`cmdline ${JSON.stringify(boot.report.cmdline)}`)
        ok = true
        return { markerMs: boot.markerMs, setupMs }
      } finally {
        await site?.close()
      }
    } finally {
      await net.close({ keepLogs: !ok })
    }
  }
}

/** The smartos + sysresccd plugin site (bootpolicy-smartos-sysresccd.test.ts), one entry booted. */
function pluginSiteSample(firmware: Firmware, mac: string, expect: string): (payload: BootPayload) => Promise<{ markerMs: number; setupMs: number }> {
  return async (payload) => {
    const t0 = performance.now()
    const net = await createTestNet()
    let ok = false
    try {
      await startSmartosSysresccdSite(net, payload)
      const setupMs = Math.round(performance.now() - t0)
      const boot = await bootToMarkerTolerant({ net, firmware, mac, timeoutMs: 180_000 })
      if (!boot.report.cmdline.includes(expect)) throw new Error(`cmdline ${JSON.stringify(boot.report.cmdline)} lacks ${expect}`)
      ok = true
      return { markerMs: boot.markerMs, setupMs }
    } finally {
      await net.close({ keepLogs: !ok })
    }
  }
}

const iscHost = (firmware: Firmware): (typeof ISC_GUIDE.hosts)[number] => ISC_GUIDE.hosts.find((h) => h.firmware === firmware)!

const CASES: readonly Case[] = [
  { name: 'per-mac bios', scenario: 'per-mac', firmware: 'bios', mac: '52:54:00:e2:03:a1', expect: 'who=alpha', baseline: { firmware: 'bios' } },
  {
    name: 'odd-identities bios',
    scenario: 'odd-identities',
    firmware: 'bios',
    mac: '52:54:00:e2:05:01',
    smbios: ODD,
    expect: 'serialok=1 manufacturerok=1 productok=1',
    baseline: { firmware: 'bios' },
  },
  { name: 'arch-dispatch uefi', scenario: 'arch-dispatch', firmware: 'uefi', mac: '52:54:00:e2:04:02', expect: 'arch=x86_64-efi', baseline: { firmware: 'uefi' } },
  {
    name: 'arch-dispatch uefi-pxe (ipxe.efi)',
    scenario: 'arch-dispatch',
    firmware: 'uefi-pxe',
    mac: '52:54:00:e2:04:03',
    efiNbp: 'ipxe.efi',
    expect: 'arch=x86_64-efi',
    baseline: { firmware: 'uefi-pxe', efiBootFile: 'ipxe.efi' },
  },
  {
    name: 'arch-dispatch uefi-pxe (snponly.efi)',
    scenario: 'arch-dispatch',
    firmware: 'uefi-pxe',
    mac: '52:54:00:e2:04:03',
    efiNbp: 'snponly.efi',
    expect: 'arch=x86_64-efi',
    baseline: { firmware: 'uefi-pxe', efiBootFile: 'snponly.efi' },
  },
  { name: 'menu-timeout uefi', scenario: 'menu-timeout', firmware: 'uefi', mac: '52:54:00:e2:00:03', expect: 'menu=default-by-timeout', baseline: { firmware: 'uefi' }, deliberateMs: 2000 },
  // Issue 15: each seed in its own topology (site DHCP + bootpolicy proxy), through the guide's menu.
  ...(['bios', 'uefi', 'uefi-pxe'] as const).map(
    (firmware, i): Case => ({
      name: `seed-001 proxy ${firmware}`,
      scenario: 'seed-001',
      firmware,
      mac: `52:54:00:e2:01:0${i + 1}`,
      expect: 'setkmap=de',
      baseline: firmware === 'uefi-pxe' ? { firmware, efiBootFile: 'ipxe.efi', seed: '001' } : { firmware, seed: '001' },
      sample: seedSample(startSeed001Site, firmware, `52:54:00:e2:01:0${i + 1}`, /Boot from the local disk/, 'r', 'setkmap=de'),
    }),
  ),
  {
    name: 'seed-002 proxy beside pfSense bios',
    scenario: 'seed-002',
    firmware: 'bios',
    mac: '52:54:00:e2:02:01',
    expect: 'smartos=true',
    baseline: { firmware: 'bios', seed: '002' },
    sample: seedSample(startSeed002Site, 'bios', '52:54:00:e2:02:01', /Exit \(boot local disk\)/, '\r', 'smartos=true'),
  },
  {
    name: 'uefi-http (OVMF HTTP boot, snponly.efi)',
    scenario: 'arch-dispatch',
    firmware: 'uefi-pxe',
    mac: '52:54:00:e2:06:01',
    expect: 'arch=x86_64-efi',
    baseline: { firmware: 'uefi-pxe', efiBootFile: 'snponly.efi' },
    sample: httpBootSample('full'),
  },
  {
    name: 'uefi-http via proxy (site DHCP + bootpolicy proxy offer, snponly.efi)',
    scenario: 'arch-dispatch',
    firmware: 'uefi-pxe',
    mac: '52:54:00:e2:06:01',
    expect: 'arch=x86_64-efi',
    baseline: { firmware: 'uefi-pxe', efiBootFile: 'snponly.efi' },
    sample: httpBootSample('proxy'),
  },
  // SystemRescue's archiso entry through the sysresccd plugin, UEFI (iPXE's EFI build).
  {
    name: 'sysresccd archiso uefi (plugin entry)',
    scenario: 'smartos-sysresccd',
    firmware: 'uefi',
    mac: RESCUE_UEFI_MAC,
    expect: 'archisobasedir=sysresccd',
    baseline: { firmware: 'uefi' },
    sample: pluginSiteSample('uefi', RESCUE_UEFI_MAC, 'archisobasedir=sysresccd'),
  },
  // Seed 003's guide: iPXE → lpxelinux → generated config → menu.c32 (3 s timeout) → kernel; UEFI: boot().
  {
    // The baseline boots lpxelinux + menu.c32 with the same 3 s timeout: both sides include it.
    name: 'guide 003 bios (lpxelinux + menu.c32, 3 s timeout on both sides)',
    scenario: 'guide-pxelinux',
    guide: 'pxelinux',
    firmware: 'bios',
    mac: PXELINUX_GUIDE.mac,
    expect: PXELINUX_GUIDE.append,
    baseline: { firmware: 'bios', pxelinux: 'menu' },
  },
  { name: 'guide 003 uefi (boot())', scenario: 'guide-pxelinux', guide: 'pxelinux', firmware: 'uefi', mac: PXELINUX_GUIDE.mac, expect: PXELINUX_GUIDE.append, baseline: { firmware: 'uefi' } },
  // Seed 004's guide: a reserved host per firmware (address and name on the kernel line).
  {
    name: 'guide 004 bios (reservation, lpxelinux)',
    scenario: 'guide-isc',
    guide: 'isc',
    firmware: 'bios',
    mac: iscHost('bios').mac,
    expect: `host=${iscHost('bios').name} ip=`,
    baseline: { firmware: 'bios', pxelinux: 'plain' },
  },
  {
    name: 'guide 004 uefi-pxe (reservation, snponly.efi as shim.efi)',
    scenario: 'guide-isc',
    guide: 'isc',
    firmware: 'uefi-pxe',
    mac: iscHost('uefi-pxe').mac,
    expect: `host=${iscHost('uefi-pxe').name} ip=`,
    baseline: { firmware: 'uefi-pxe', efiBootFile: 'snponly.efi' },
  },
]

async function bootpolicySample(c: Case, payload: BootPayload): Promise<{ markerMs: number; setupMs: number }> {
  const t0 = performance.now()
  const net = await createTestNet()
  let ok = false
  try {
    const nbp = c.efiNbp ?? 'ipxe.efi'
    if (c.guide === 'pxelinux') await startPxelinuxGuideSite(net, payload)
    else if (c.guide === 'isc') await startIscGuideSite(net, payload)
    else {
      await startBootpolicy({
        net,
        scenario: c.scenario,
        payload,
        tftpFiles: c.firmware === 'uefi-pxe' ? [nbp] : [],
        ...(c.firmware === 'uefi-pxe' ? { archMap: { 7: nbp, 9: nbp } } : {}),
      })
    }
    const setupMs = Math.round(performance.now() - t0)
    const boot = await bootToMarkerTolerant({ net, firmware: c.firmware, mac: c.mac, ...(c.smbios ? { smbios: c.smbios } : {}), timeoutMs: 180_000, failOn: PXELINUX_FAILURES })
    if (!boot.report.cmdline.includes(c.expect)) throw new Error(`${c.name}: cmdline ${JSON.stringify(boot.report.cmdline)} lacks ${c.expect}`)
    ok = true
    return { markerMs: boot.markerMs, setupMs }
  } finally {
    await net.close({ keepLogs: !ok })
    if (!ok) process.stderr.write(`bench e2e-boot-times: ${c.name} failed; logs kept in ${net.dir}\n`)
  }
}

const key = (b: Baseline): string =>
  `${b.firmware}${b.efiBootFile ? ` (${b.efiBootFile})` : ''}${b.pxelinux ? ` (lpxelinux${b.pxelinux === 'menu' ? ' + menu.c32, 3 s timeout' : ''})` : ''}${b.seed ? SEED_REFERENCE[b.seed] : ''}`

const SEED_REFERENCE = {
  '001': ' (seed 001 site: router DHCP + dnsmasq proxyDHCP, static menu)',
  '002': ' (seed 002 site: pfSense-style router DHCP + dnsmasq proxyDHCP, static menu)',
} as const

/** The seed's site before bootpolicy, in its topology, through the same menu and key as the seed rows. */
const seedReferenceSample = (seed: '001' | '002', firmware: Firmware, payload: BootPayload): Promise<{ markerMs: number; setupMs: number }> =>
  seed === '001'
    ? seedSample(startSeed001Reference, firmware, '52:54:00:e2:e1:01', /Boot from the local disk/, 'r', 'setkmap=de')(payload)
    : seedSample(startSeed002Reference, firmware, '52:54:00:e2:e2:01', /Exit \(boot local disk\)/, '\r', 'smartos=true')(payload)

/** The dnsmasq side: the e2e harness's own baseline boot (fresh namespace, dnsmasq, static HTTP). */
async function baselineSample(b: Baseline, payload: BootPayload): Promise<{ markerMs: number; setupMs: number }> {
  if (b.seed) return seedReferenceSample(b.seed, b.firmware, payload)
  const boot = await runBaselineBoot({ firmware: b.firmware, payload, timeoutMs: 120_000, ...(b.efiBootFile ? { efiBootFile: b.efiBootFile } : {}), ...(b.pxelinux ? { pxelinux: b.pxelinux } : {}) })
  if (!boot.report.cmdline.includes('bp.e2e=baseline')) throw new Error(`baseline: cmdline ${JSON.stringify(boot.report.cmdline)}`)
  return { markerMs: boot.markerMs, setupMs: boot.setupMs }
}

/** Up to three attempts per sample; a failure is logged, three are fatal. */
async function attempts<T>(what: string, fn: () => Promise<T>, n = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn()
    } catch (err) {
      if (i >= n) throw err
      process.stderr.write(`bench e2e-boot-times: ${what} failed (attempt ${i}/${n}), again: ${String(err).split('\n')[0]}\n`)
    }
  }
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid]! : Math.round((s[mid - 1]! + s[mid]!) / 2)
}

/**
 * A run of some cases only (BOOTPOLICY_E2E_BENCH_ONLY through `npm run bench -- e2e-boot-times`)
 * rewrites only their rows: the other rows of the section in docs/benchmarks.md are kept, in place,
 * so that a few new cases need not re-measure every other one. Each row's ratio is still against a
 * baseline of its own run (named in its baseline column); the section's baseline and setup rows are
 * replaced only by a full run.
 */
export function keptFigures(measured: readonly Figure[]): Figure[] {
  const file = join(PACKAGE_ROOT, 'docs', 'benchmarks.md')
  if (!existsSync(file)) return [...measured]
  const section = readFileSync(file, 'utf8')
    .split(/^(?=## )/m)
    .find((part) => part.startsWith('## e2e boot times'))
  const rows = (section ?? '')
    .split('\n')
    .filter((l) => l.startsWith('| ') && !l.startsWith('| figure ') && !l.startsWith('| ---'))
    .map((l): Figure => {
      const [name = '', value = '', ratio = '', baseline = '', target = ''] = l.slice(2, -2).split(' | ')
      const [num = '0', ...unit] = value.split(' ')
      return { name, value: Number(num), unit: unit.join(' '), ...(ratio ? { ratio: Number(ratio.replace('×', '')) } : {}), ...(baseline ? { baseline } : {}), ...(target ? { target } : {}) }
    })
  // The section's baseline and setup rows stay: the kept rows were measured against them (each
  // re-measured row names its own run's baseline in its baseline column).
  const shared = (f: Figure): boolean => f.name.startsWith('dnsmasq baseline') || f.name.startsWith('setup:')
  const fresh = new Map(measured.filter((f) => !shared(f)).map((f) => [f.name, f]))
  const out = rows.map((r) => fresh.get(r.name) ?? r)
  const known = new Set(rows.map((r) => r.name))
  // New rows go before the baseline rows, as in a full run; a baseline or setup row the section
  // lacks (a new firmware variant) is added too.
  const added = measured.filter((f) => !known.has(f.name))
  const firstShared = out.findIndex(shared)
  out.splice(firstShared < 0 ? out.length : firstShared, 0, ...added.filter((f) => !shared(f)))
  const setup = out.findIndex((f) => f.name.startsWith('setup:'))
  out.splice(setup < 0 ? out.length : setup, 0, ...added.filter((f) => f.name.startsWith('dnsmasq baseline')))
  out.push(...added.filter((f) => f.name.startsWith('setup:')))
  return out
}

export async function run(options: { samples?: number; only?: readonly string[] } = {}): Promise<BenchResult> {
  const samples = options.samples ?? (Number(process.env.BOOTPOLICY_E2E_BENCH_SAMPLES) || 3)
  const only = options.only ?? process.env.BOOTPOLICY_E2E_BENCH_ONLY?.split(',').filter(Boolean)
  const cases = CASES.filter((c) => !only?.length || only.some((o) => c.name.includes(o)))
  if (cases.length === 0) throw new Error(`bench e2e-boot-times: no case matches ${JSON.stringify(only)}`)
  const payload = await buildBootPayload()
  const baselineMs = new Map<string, number[]>()
  const baselineSetup: number[] = []
  const bootpolicyMs = new Map<string, number[]>()
  const push = (m: Map<string, number[]>, k: string, v: number): void => void m.set(k, [...(m.get(k) ?? []), v])
  const ready: number[] = []
  const log = (s: string): void => void process.stderr.write(`bench e2e-boot-times: ${s}\n`)

  for (let i = 0; i < samples; i++) {
    // Alternate which side goes first, so that a load change between the two hits both alike.
    const baselineFirst = i % 2 === 0
    const baselinesThisRound = new Set<string>()
    for (const c of cases) {
      const b = key(c.baseline)
      const runBaseline = async (): Promise<void> => {
        if (baselinesThisRound.has(b)) return
        baselinesThisRound.add(b)
        const r = await attempts(`dnsmasq ${b}`, () => baselineSample(c.baseline, payload))
        push(baselineMs, b, r.markerMs)
        baselineSetup.push(r.setupMs)
        log(`sample ${i + 1}/${samples} dnsmasq ${b}: ${r.markerMs} ms`)
      }
      const runBootpolicy = async (): Promise<void> => {
        const r = await attempts(`bootpolicy ${c.name}`, () => (c.sample ? c.sample(payload) : bootpolicySample(c, payload)))
        push(bootpolicyMs, c.name, r.markerMs)
        ready.push(r.setupMs)
        log(`sample ${i + 1}/${samples} bootpolicy ${c.name}: ${r.markerMs} ms`)
      }
      if (baselineFirst) {
        await runBaseline()
        await runBootpolicy()
      } else {
        await runBootpolicy()
        await runBaseline()
      }
    }
  }

  const figures: Figure[] = []
  for (const c of cases) {
    const value = median(bootpolicyMs.get(c.name)!)
    const base = median(baselineMs.get(key(c.baseline))!)
    const deliberate = c.deliberateMs ?? 0
    figures.push({
      name: `${c.name}: QEMU start → marker${deliberate ? ` (includes the ${deliberate / 1000} s menu timeout)` : ''}`,
      value,
      unit: 'ms',
      ratio: (value - deliberate) / base,
      baseline: `dnsmasq + static HTTP, ${key(c.baseline)}: ${base} ms${deliberate ? `; ratio after subtracting the ${deliberate} ms timeout` : ''}`,
      target: '≤ 1.0',
    })
  }
  for (const [b, values] of baselineMs) figures.push({ name: `dnsmasq baseline ${b}: QEMU start → marker`, value: median(values), unit: 'ms' })
  figures.push({
    name: 'setup: namespace + bootpolicy serving DHCP, TFTP and HTTP',
    value: median(ready),
    unit: 'ms',
    ratio: median(ready) / median(baselineSetup),
    baseline: `namespace + dnsmasq + static HTTP: ${median(baselineSetup)} ms`,
  })
  return { name: `e2e boot times, real iPXE under QEMU/TCG (median of ${samples})`, figures: only?.length ? keptFigures(figures) : figures }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`)
    return i >= 0 ? process.argv[i + 1] : undefined
  }
  const result = await run({
    ...(arg('samples') ? { samples: Number(arg('samples')) } : {}),
    ...(arg('only') ? { only: arg('only')!.split(',') } : {}),
  })
  for (const f of result.figures) {
    process.stdout.write(`${f.name}: ${f.value} ${f.unit}${f.ratio !== undefined ? ` (${f.ratio.toFixed(2)}× ${f.baseline})` : ''}${f.target ? ` target ${f.target}` : ''}\n`)
  }
  console.log(JSON.stringify(result, null, 2))
}
