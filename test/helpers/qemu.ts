/**
 * QEMU (TCG) network-booting inside a TestNet, with its serial console captured and timestamped.
 *
 * Firmware modes:
 * - `bios`: SeaBIOS + Debian's iPXE virtio ROM (pxe-virtio.rom). iPXE does DHCP itself.
 * - `uefi`: OVMF + Debian's EFI iPXE virtio ROM (efi-virtio.rom). iPXE does DHCP itself.
 * - `uefi-pxe`: OVMF with no option ROM: OVMF's own PXE client does DHCP + TFTP and runs the NBP
 *   the server names (e.g. ipxe.efi), which then does DHCP again as iPXE.
 *
 * Facts behind the flags (measured on Debian 12, QEMU 7.2): KVM here hangs Linux guests → TCG;
 * Debian's virtio ROM needs `disable-legacy=on`; SeaBIOS/iPXE print to serial only with
 * `-machine q35,graphics=off`; `-no-reboot` + `panic=-1` turns any reboot or kernel panic into a
 * QEMU exit, so failures end fast instead of looping.
 */
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { type MarkerReport, parseMarkerReport, PAYLOAD_MARKER } from './boot-payload.js'
import type { TestNet } from './e2e-net.js'
import type { ExitStatus, OwnedProcess } from './e2e-process.js'
import { tail } from './e2e-process.js'
import { requireCommand, requireFile } from './e2e-require.js'
import { type BootMilestones, bootMilestones, cleanSerial, type SerialChunk, type SerialLine, serialLines } from './qemu-serial.js'

export type Firmware = 'bios' | 'uefi' | 'uefi-pxe'
const IPXE_PROMPT = 'Press Ctrl-B for the iPXE command line'
export const FIRMWARES: readonly Firmware[] = ['bios', 'uefi', 'uefi-pxe']

export const FIRMWARE_FILES = {
  biosRom: { path: '/usr/lib/ipxe/qemu/pxe-virtio.rom', pkg: 'ipxe-qemu' },
  efiRom: { path: '/usr/lib/ipxe/qemu/efi-virtio.rom', pkg: 'ipxe-qemu' },
  ovmfCode: { path: '/usr/share/OVMF/OVMF_CODE_4M.fd', pkg: 'ovmf' },
  ovmfVars: { path: '/usr/share/OVMF/OVMF_VARS_4M.fd', pkg: 'ovmf' },
  seabios: { path: '/usr/share/seabios/bios-256k.bin', pkg: 'seabios' },
  /** What a server hands OVMF's PXE client in `uefi-pxe` mode (not used by QEMU itself). */
  ipxeEfi: { path: '/usr/lib/ipxe/ipxe.efi', pkg: 'ipxe' },
} as const

/** SMBIOS type 1 (system) fields, as iPXE's ${serial} ${uuid} ${manufacturer} ${product} see them. */
export interface Smbios {
  readonly serial?: string
  readonly uuid?: string
  readonly manufacturer?: string
  readonly product?: string
  readonly version?: string
  readonly sku?: string
  readonly family?: string
}

export interface QemuOptions {
  readonly net: TestNet
  readonly firmware: Firmware
  /** Tap inside the namespace (default: a new one from net.addTap()). */
  readonly tap?: string
  /** Default 52:54:00:e2:e0:01. */
  readonly mac?: string
  readonly smbios?: Smbios
  /** Default 256 (enough for the payload; OVMF + iPXE + Linux fit). */
  readonly memoryMb?: number
  /** Process and log name (default `qemu-<firmware>`). */
  readonly name?: string
  readonly extraArgs?: readonly string[]
  /**
   * Answer iPXE's "Press Ctrl-B for the iPXE command line..." with a space on the serial console,
   * which ends its 2 s wait at once (default true; a constant 2 s per iPXE start otherwise).
   */
  readonly skipIpxePrompt?: boolean
}

export interface QemuVm {
  readonly firmware: Firmware
  readonly mac: string
  readonly process: OwnedProcess
  /** Serial console, cleaned (see cleanSerial). QEMU's own stderr is interleaved. */
  log(): string
  rawLog(): string
  lines(): SerialLine[]
  milestones(): BootMilestones
  /**
   * First match of `re` in the cleaned log, with the ms after spawn when it matched. Rejects on
   * timeout, when `failOn` matches first, or when QEMU exits first — with the log's tail.
   */
  /** `after`: look only at the log from this offset on (e.g. a second login form on one console). */
  waitFor(re: RegExp, timeoutMs: number, options?: { failOn?: RegExp; after?: number }): Promise<{ match: RegExpExecArray; atMs: number }>
  waitForExit(timeoutMs: number): Promise<ExitStatus>
  stop(): Promise<void>
}

export function firmwareArgs(options: Pick<QemuOptions, 'firmware'>, varsCopy: string): { machine: string; rom: string; pflash: string[] } {
  switch (options.firmware) {
    case 'bios':
      requireFile(FIRMWARE_FILES.seabios.path, FIRMWARE_FILES.seabios.pkg)
      return { machine: 'q35,graphics=off', rom: requireFile(FIRMWARE_FILES.biosRom.path, FIRMWARE_FILES.biosRom.pkg), pflash: [] }
    case 'uefi':
    case 'uefi-pxe': {
      const code = requireFile(FIRMWARE_FILES.ovmfCode.path, FIRMWARE_FILES.ovmfCode.pkg)
      copyFileSync(requireFile(FIRMWARE_FILES.ovmfVars.path, FIRMWARE_FILES.ovmfVars.pkg), varsCopy)
      return {
        machine: 'q35',
        rom: options.firmware === 'uefi' ? requireFile(FIRMWARE_FILES.efiRom.path, FIRMWARE_FILES.efiRom.pkg) : '',
        pflash: ['-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${code}`, '-drive', `if=pflash,format=raw,unit=1,file=${varsCopy}`],
      }
    }
  }
}

/** QEMU's option syntax: a comma inside a value is written twice. */
function qemuValue(value: string): string {
  return value.replace(/,/g, ',,')
}

export function smbiosArg(smbios: Smbios): string[] {
  const fields = Object.entries(smbios).filter(([, v]) => v !== undefined && v !== '')
  if (fields.length === 0) return []
  return ['-smbios', ['type=1', ...fields.map(([k, v]) => `${k}=${qemuValue(String(v))}`)].join(',')]
}

export async function startQemu(options: QemuOptions): Promise<QemuVm> {
  const qemu = requireCommand('qemu-system-x86_64', 'qemu-system-x86')
  const { net, firmware } = options
  const name = options.name ?? `qemu-${firmware}`
  const mac = options.mac ?? '52:54:00:e2:e0:01'
  const tap = options.tap ?? (await net.addTap())
  const fw = firmwareArgs(options, join(net.dir, `${name}-OVMF_VARS.fd`))
  const args = [
    '-name',
    name,
    '-accel',
    'tcg',
    '-machine',
    fw.machine,
    '-m',
    String(options.memoryMb ?? 256),
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    'stdio',
    '-no-reboot',
    ...fw.pflash,
    // BIOS: try the network only, and "reboot" (= exit, with -no-reboot) at once if nothing boots.
    ...(firmware === 'bios' ? ['-boot', 'order=n,reboot-timeout=0'] : []),
    '-netdev',
    `tap,id=net0,ifname=${tap},script=no,downscript=no`,
    '-device',
    `virtio-net-pci,netdev=net0,mac=${mac},disable-legacy=on,romfile=${fw.rom}`,
    ...smbiosArg(options.smbios ?? {}),
    ...(options.extraArgs ?? []),
  ]
  const skipPrompt = options.skipIpxePrompt ?? true
  // The serial console goes to a file, not a pipe: QEMU drops serial bytes a late reader leaves in a full pipe (e2e-process.ts).
  const proc = net.spawn(name, qemu, args, { stdin: skipPrompt ? 'pipe' : 'ignore', outputToFile: true })
  const chunks: SerialChunk[] = []
  const waiters = new Set<() => void>()
  let promptsAnswered = 0
  proc.onOutput((text, atMs) => {
    chunks.push({ atMs, text })
    if (skipPrompt) {
      const prompts = proc.output().split(IPXE_PROMPT).length - 1
      for (; promptsAnswered < prompts; promptsAnswered++) proc.write(' ')
    }
    for (const waiter of waiters) waiter()
  })

  const vm: QemuVm = {
    firmware,
    mac,
    process: proc,
    rawLog: () => proc.output(),
    log: () => cleanSerial(proc.output()),
    lines: () => serialLines(chunks),
    milestones: () => bootMilestones(serialLines(chunks)),
    waitFor(re, timeoutMs, waitOptions = {}) {
      return new Promise((resolve, reject) => {
        const fail = (why: string): void => {
          finish()
          reject(new Error(`${name}: ${why}; serial log (${proc.logFile}):\n${tail(vm.log())}`))
        }
        const check = (): void => {
          const text = vm.log().slice(waitOptions.after ?? 0)
          const match = re.exec(text)
          const bad = waitOptions.failOn?.exec(text)
          if (bad && (!match || bad.index < match.index)) return fail(`saw ${JSON.stringify(bad[0])} before ${re}`)
          if (match) {
            finish()
            resolve({ match, atMs: chunks.at(-1)?.atMs ?? performance.now() - proc.startedAt })
          }
        }
        const timer = setTimeout(() => fail(`${re} not seen within ${timeoutMs} ms`), timeoutMs)
        const finish = (): void => {
          clearTimeout(timer)
          waiters.delete(check)
        }
        waiters.add(check)
        void proc.exited.then((s) => {
          if (!waiters.has(check)) return
          check()
          if (waiters.has(check)) fail(`QEMU exited (code ${s.code}, signal ${s.signal}) before ${re}`)
        })
        check()
      })
    },
    async waitForExit(timeoutMs) {
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${name}: still running after ${timeoutMs} ms`)), timeoutMs)
      })
      try {
        return await Promise.race([proc.exited, timeout])
      } finally {
        clearTimeout(timer)
      }
    },
    async stop() {
      await proc.stop(500)
    },
  }
  return vm
}

/** Failure lines that end a boot early: waiting longer would only burn the timeout. */
export const BOOT_FAILURES = /Kernel panic|Could not boot|No more network devices|No bootable device|No bootable option or device was found|Boot Failed/

export interface BootResult {
  readonly firmware: Firmware
  /** ms from QEMU spawn to the marker line. */
  readonly markerMs: number
  /** ms from QEMU spawn to QEMU's exit after the guest powered off (undefined if it did not exit). */
  readonly exitMs: number | undefined
  readonly report: MarkerReport
  readonly milestones: BootMilestones
  /** Serial lines with their start/end times (ms after spawn). */
  readonly lines: readonly SerialLine[]
  readonly log: string
  readonly logFile: string
}

/**
 * Boot until the payload prints its marker, then let it power off. Stops QEMU whatever happens.
 * `timeoutMs` (default 120 s) bounds the wait for the marker.
 */
export async function bootToMarker(options: QemuOptions & { readonly timeoutMs?: number; readonly failOn?: RegExp }): Promise<BootResult> {
  const vm = await startQemu(options)
  try {
    const { atMs } = await vm.waitFor(new RegExp(PAYLOAD_MARKER), options.timeoutMs ?? 120_000, {
      failOn: options.failOn ?? BOOT_FAILURES,
    })
    const exit = await vm.waitForExit(10_000).catch(() => undefined)
    const log = vm.log()
    const report = parseMarkerReport(log)
    if (!report) throw new Error(`${vm.process.name}: marker seen but no report lines; log:\n${tail(log)}`)
    return {
      firmware: options.firmware,
      markerMs: Math.round(atMs),
      exitMs: exit && Math.round(exit.atMs),
      report,
      milestones: roundAll(vm.milestones()),
      lines: vm.lines(),
      log,
      logFile: vm.process.logFile,
    }
  } finally {
    await vm.stop()
  }
}

function roundAll(m: BootMilestones): BootMilestones {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Math.round(v as number)])) as BootMilestones
}
