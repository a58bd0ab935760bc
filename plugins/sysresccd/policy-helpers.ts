/** `bootpolicy/plugins/sysresccd`: pure helpers for policies (bundled into the sandbox; no Node APIs). */
import type { Decision, MenuItem } from 'bootpolicy/policy'

export interface SysresccdBootOptions {
  /** Legacy layout: 32 or 64-bit kernel, or `cpuid` (iPXE tests the CPU). Default: from the client's arch. */
  readonly bits?: 32 | 64 | 'cpuid'
  /** Console keymap for this boot (`setkmap=`); default: the plugin's `keymap` option. */
  readonly keymap?: string
  /** Extra kernel arguments for this boot. */
  readonly args?: string[]
}

export interface SysresccdBoot {
  readonly kind: 'sysresccd.boot'
  readonly bits?: 32 | 64 | 'cpuid'
  readonly keymap?: string
  readonly args?: string[]
}

/** Boot SystemRescue from the plugin's ISO tree. */
export function sysresccdBoot(options: SysresccdBootOptions = {}): SysresccdBoot {
  return { kind: 'sysresccd.boot', ...options }
}

/** A menu entry that boots SystemRescue. */
export function sysresccdItem(id: string, text: string, options: SysresccdBootOptions = {}, extra: { key?: string } = {}): MenuItem {
  return { id, text, action: sysresccdBoot(options) as unknown as Decision, ...extra }
}
