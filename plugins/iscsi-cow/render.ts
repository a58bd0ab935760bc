/**
 * The `iscsi-cow.disk` decision kind: validation of what a policy returns, and rendering of the
 * prepared decision. Every value goes through IpxeScript.arg / .text.
 *
 * - sanboot: `set username` / `set password`, then `sanboot iscsi:<server>::[port]:1:<iqn>`
 *   (LUN 1: LUN 0 is tgtd's controller); on failure the credentials are cleared.
 * - kernel: seed 000's kernel line plus `netroot=iscsi:<user>:<secret>@<server>::<port>:1:<iqn>`
 *   and `root=/dev/disk/by-path/ip-<server>:<port>-iscsi-<iqn>-lun-1`.
 */
import { Checker, renderBoot, type IpxeScript } from 'bootpolicy/plugin'
import { errors } from './errors.js'
import type { IscsiCowDiskDecision, IscsiCowKernelBoot } from './policy-helpers.js'
import type { Attachment } from './provisioner.js'

/** The decision after prepare: `target` is set by the plugin only. */
export type PreparedDisk = IscsiCowDiskDecision & { readonly target: Attachment }

const RESERVED_ARG = /^(root|netroot|rd\.iscsi\.[a-z.]+)=/

export function validateDisk(images: readonly string[], d: Record<string, unknown>, path: string, problems: string[]): void {
  const v = new Checker(d, path, problems)
  v.string('image', true)
  v.string('message')
  v.only('image', 'boot', 'message')
  if (typeof d.image === 'string' && d.image !== '' && !images.includes(d.image)) {
    problems.push(`${path}.image: unknown image "${d.image.slice(0, 64)}" (configured: ${images.join(', ')})`)
  }
  const boot = d.boot
  if (boot === 'sanboot') return
  if (typeof boot !== 'object' || boot === null || Array.isArray(boot)) {
    problems.push(`${path}.boot: expected 'sanboot' or { kernel, initrds?, args? }`)
    return
  }
  const b = boot as Record<string, unknown>
  const bv = new Checker(b, `${path}.boot`, problems)
  bv.string('kernel', true)
  bv.stringArray('initrds', 16)
  bv.stringArray('args', 120)
  bv.only('kernel', 'initrds', 'args')
  if (Array.isArray(b.args)) {
    b.args.forEach((a: unknown, i) => {
      if (typeof a === 'string' && RESERVED_ARG.test(a)) problems.push(`${path}.boot.args[${i}]: ${a.split('=')[0]}= is set by the iscsi-cow plugin`)
    })
  }
}

export function sanbootUri(t: Attachment): string {
  return `iscsi:${t.portal}::${t.port === 3260 ? '' : t.port}:${t.lun}:${t.iqn}`
}

export function kernelIscsiArgs(t: Attachment): string[] {
  return [`netroot=iscsi:${t.chapUser}:${t.chapSecret}@${t.portal}::${t.port}:${t.lun}:${t.iqn}`, `root=/dev/disk/by-path/ip-${t.portal}:${t.port}-iscsi-${t.iqn}-lun-${t.lun}`]
}

/** The kind's decision as the renderer gets it: prepared (with `target`) unless it sat in a menu. */
export type RenderedDisk = IscsiCowDiskDecision & { readonly target?: Attachment }

export function renderDisk(d: RenderedDisk, s: IpxeScript, failLabel: string): void {
  if (!d.target) {
    // Only a whole decision is prepared; inside a menu nobody made the disk.
    throw errors.create('BP_ERR_ISCSI_NOT_PREPARED', { image: d.image })
  }
  const t = d.target
  if (d.message) s.command('echo', s.text(d.message))
  if (d.boot === 'sanboot') {
    const clear = 'iscsi-cow_clear'
    s.command('set', 'username', s.arg('chapUser', t.chapUser))
    s.command('set', 'password', s.arg('chapSecret', t.chapSecret))
    s.commandOr(clear, 'sanboot', s.arg('uri', sanbootUri(t)))
    s.label(clear)
    s.command('clear', 'username')
    s.command('clear', 'password')
    s.command('goto', s.labelName(failLabel))
    return
  }
  renderKernel(d.boot, kernelIscsiArgs(t), s, failLabel)
}

function renderKernel(b: IscsiCowKernelBoot, extra: string[], s: IpxeScript, failLabel: string): void {
  // The core's boot rendering (initrd names, UEFI `initrd=`, relative-URL safety), plus the disk's arguments.
  renderBoot({ kind: 'boot', kernel: b.kernel, initrds: b.initrds ?? [], args: [...(b.args ?? []), ...extra] }, s, failLabel)
}
