/** `bootpolicy/plugins/pxelinux-cfg`: pure helpers for policies (bundled into the sandbox; no Node APIs). */
import type { PxelinuxConfig, PxelinuxEntry } from './render-config.js'

export type { PxelinuxConfig, PxelinuxEntry }

export interface PxelinuxChain {
  readonly kind: 'pxelinux-cfg.chain'
  readonly config?: PxelinuxConfig
  readonly template?: string
  readonly vars?: Readonly<Record<string, string | number | boolean>>
}

/** Chain lpxelinux.0 and serve it this configuration (rendered by the plugin, values checked). */
export function pxelinuxChain(config: PxelinuxConfig): PxelinuxChain {
  return { kind: 'pxelinux-cfg.chain', config }
}

/** Chain lpxelinux.0 with the template `<templatesDir>/<name>.cfg`; every `{{ var }}` must be given, as one token. */
export function pxelinuxTemplate(name: string, vars: Record<string, string | number | boolean> = {}): PxelinuxChain {
  return { kind: 'pxelinux-cfg.chain', template: name, vars }
}

/** One LABEL block. */
export function pxelinuxEntry(label: string, kernel: string, options: Omit<PxelinuxEntry, 'label' | 'kernel'> = {}): PxelinuxEntry {
  return { label, kernel, ...options }
}
