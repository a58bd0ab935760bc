/**
 * sysresccd: boot SystemRescue from an extracted ISO (seed 001).
 *
 * setup recognizes the layout (current archiso-based, or the legacy SystemRescueCd one), checks
 * that the files exist and verifies the root file system against its checksum file; a mismatch
 * stops the server at start. The decision kind `sysresccd.boot` renders kernel, initrds and the
 * kernel arguments the layout needs. See README.md.
 */
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Checker, definePlugin, type Decision, type IpxeScript, type RenderEnv } from 'bootpolicy/plugin'
import { detectLayout, verifyRootfs, type Layout } from './detect-layout.js'

export interface SysresccdOptions {
  /** The extracted ISO (the folder holding sysresccd/ or sysrcd.dat). Relative to the config file. */
  root: string
  /** Absolute URL where `root` is served, ending in `/`: the booted system fetches its root file system there. */
  httpBase: string
  /** Where iPXE fetches kernel and initrds; default `httpBase`. May be relative to /boot (`/files/sysresccd/`). */
  urlPrefix?: string
  /** Console keymap (`setkmap=`). */
  keymap: string
  /** Verify airootfs.sfs (sha512) or sysrcd.dat (md5) against the checksum file at start. */
  verifyChecksum: boolean
  /** Extra kernel arguments for every boot, e.g. `nofirewall`, `copytoram`. */
  args: string[]
}

export interface SysresccdBootDecision {
  readonly kind: 'sysresccd.boot'
  /** Legacy layout only: 32 or 64-bit kernel, or `cpuid` to let iPXE test the CPU. Default: from ctx.arch. */
  readonly bits?: 32 | 64 | 'cpuid'
  readonly keymap?: string
  readonly args?: readonly string[]
}

const KEYMAP = /^[A-Za-z0-9_-]{1,32}$/
const helpersFile = fileURLToPath(new URL(`./policy-helpers${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url))

export const optionsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['root', 'httpBase'],
  properties: {
    root: { type: 'string', minLength: 1 },
    httpBase: { type: 'string', maxLength: 1024, pattern: '^https?://[^\\s${}]+/$' },
    urlPrefix: { type: 'string', maxLength: 1024, pattern: '^[^\\s${}]+$' },
    keymap: { type: 'string', pattern: KEYMAP.source, default: 'us' },
    verifyChecksum: { type: 'boolean', default: true },
    args: { type: 'array', maxItems: 32, items: { type: 'string', pattern: '^[^\\s${}]{1,256}$' }, default: [] },
  },
}

/** Labels this plugin creates are unique per script: `sysresccd_<n>_<bits>`. */
const labelCounts = new WeakMap<IpxeScript, number>()

export default definePlugin((options: SysresccdOptions) => {
  let layout: Layout | undefined
  const prefix = (): string => {
    const p = options.urlPrefix ?? options.httpBase
    return p.endsWith('/') ? p : `${p}/`
  }

  function renderKernel(s: IpxeScript, failLabel: string, kernel: string, initrds: readonly string[], args: string[]): void {
    const names = initrds.map((rel) => rel.split('/').pop()!)
    // UEFI kernels find their initrds by name (`initrd=`); BIOS kernels ignore it.
    const all = [...args, ...names.map((n) => `initrd=${n}`)]
    s.commandOr(failLabel, 'kernel', s.arg('kernel', prefix() + kernel), ...all.map((a, i) => s.arg(`args[${i}]`, a)))
    initrds.forEach((rel, i) => s.commandOr(failLabel, 'initrd', '--name', s.arg('initrd name', names[i]!), s.arg('initrd', prefix() + rel)))
    s.commandOr(failLabel, 'boot')
  }

  return {
    name: 'sysresccd',
    version: '0.1.0',
    bootpolicy: '^0.1.0',
    schema: optionsSchema,
    policyHelpers: helpersFile,

    async setup(api) {
      const root = resolve(api.baseDir, options.root)
      const found = await detectLayout(root)
      const check = options.verifyChecksum ? await verifyRootfs(root, found, api.stateDir) : 'skipped'
      if (check === 'no-checksum-file') api.logger.warn({ root }, 'no checksum file beside the root file system; not verified')
      api.logger.info({ root, layout: found.kind, version: found.version, checksum: check }, 'SystemRescue found')
      layout = found
    },

    decisionKinds: {
      boot: {
        validate(d, path, problems) {
          const v = new Checker(d, path, problems)
          v.string('keymap')
          v.stringArray('args', 32)
          v.only('bits', 'keymap', 'args')
          if (d.bits !== undefined && d.bits !== 32 && d.bits !== 64 && d.bits !== 'cpuid') problems.push(`${path}.bits: expected 32, 64 or "cpuid"`)
          if (typeof d.keymap === 'string' && !KEYMAP.test(d.keymap)) problems.push(`${path}.keymap: expected 1-32 of A-Z a-z 0-9 _ -`)
          if (!layout) return
          if (layout.kind === 'archiso' && d.bits === 32) problems.push(`${path}.bits: this SystemRescue (archiso layout) has only a 64-bit kernel`)
          if (layout.kind === 'legacy' && (d.bits === 32 || d.bits === 64) && !layout.kernels[d.bits]) {
            problems.push(`${path}.bits: isolinux/rescue${d.bits} is missing`)
          }
        },
        render(decision: Decision, s: IpxeScript, env: RenderEnv, failLabel: string) {
          const d = decision as unknown as SysresccdBootDecision
          if (!layout) throw new Error('sysresccd: setup did not complete')
          const keymap = d.keymap ?? options.keymap
          const extra = [...options.args, ...(d.args ?? [])]
          if (layout.kind === 'archiso') {
            const args = ['archisobasedir=sysresccd', 'ip=dhcp', `archiso_http_srv=${options.httpBase}`]
            if (layout.checksum) args.push('checksum')
            args.push(`setkmap=${keymap}`)
            // pxelinux's SYSAPPEND 2: tells archiso which interface booted.
            if (env.context.mac) args.push(`BOOTIF=01-${env.context.mac.replaceAll(':', '-')}`)
            renderKernel(s, failLabel, layout.kernel, layout.initrds, [...args, ...extra])
            return
          }
          const args = [`setkmap=${keymap}`, 'dodhcp', `netboot=${options.httpBase}${layout.rootfs}`, ...extra]
          const { kernels, initrd } = layout
          const arch = env.context.arch
          let bits = d.bits ?? (arch.startsWith('x86_64') ? 64 : arch.startsWith('i386') ? 32 : 'cpuid')
          if (bits === 'cpuid' && !(kernels[32] && kernels[64])) bits = kernels[64] ? 64 : 32
          if (bits !== 'cpuid') {
            renderKernel(s, failLabel, kernels[bits] ?? kernels[bits === 64 ? 32 : 64]!, [initrd], args)
            return
          }
          const n = labelCounts.get(s) ?? 0
          labelCounts.set(s, n + 1)
          const l64 = s.labelName(`sysresccd_${n}_64`)
          const l32 = s.labelName(`sysresccd_${n}_32`)
          // CPUID extended feature bit 29: long mode, i.e. the CPU runs 64-bit kernels.
          s.command('cpuid', '--ext', '29', '&&', 'goto', l64, '||', 'goto', l32)
          s.label(l64)
          renderKernel(s, failLabel, kernels[64]!, [initrd], args)
          s.label(l32)
          renderKernel(s, failLabel, kernels[32]!, [initrd], args)
        },
      },
    },
  }
})
