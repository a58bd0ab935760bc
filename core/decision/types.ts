/**
 * The decision vocabulary: what a policy (or a plugin's decide hook) returns.
 * A discriminated union on `kind`, rendered into iPXE in one place (core/ipxe/render-decision.ts),
 * which escapes or rejects every value. Plugins add kinds through the plugin host.
 */

/** Load a kernel (and initrds) and boot it. */
export interface BootDecision {
  readonly kind: 'boot'
  /** URL of the kernel, absolute or relative to /boot (e.g. `/files/vmlinuz`). */
  readonly kernel: string
  readonly initrds?: readonly string[]
  /** Kernel command line, one argument per element (no whitespace inside an element). */
  readonly args?: readonly string[]
  /**
   * Multiboot modules (`module` lines, e.g. SmartOS's boot_archive); rendered after the kernel.
   * When present, no `initrd=` arguments are added.
   */
  readonly modules?: readonly string[]
  /** Text shown before loading (`echo`). */
  readonly message?: string
}

/** One selectable menu entry. */
export interface MenuItem {
  /** Stable id, used by `MenuDecision.default` (letters, digits, `_`, `-`). */
  readonly id: string
  readonly text: string
  /** One hot key (letter or digit). */
  readonly key?: string
  readonly action: Decision
}

/** A non-selectable line: a heading, a separator, or (with text '') an empty line. */
export interface MenuGap {
  readonly gap: string
}

export type MenuEntry = MenuItem | MenuGap

export interface MenuDecision {
  readonly kind: 'menu'
  readonly title?: string
  readonly items: readonly MenuEntry[]
  /** Id of the item chosen when the timeout expires. */
  readonly default?: string
  /** Milliseconds before the default is taken; 0 or absent waits forever. */
  readonly timeoutMs?: number
}

/** Fetch and run another script or boot file (`chain`). */
export interface ChainDecision {
  readonly kind: 'chain'
  readonly url: string
}

/** Come back to /boot with the same identity plus these parameters (a menu choice, a step). */
export interface AgainDecision {
  readonly kind: 'again'
  readonly params: Readonly<Record<string, string>>
}

/** Boot from a SAN disk (`sanboot`), e.g. `iscsi:10.0.0.1:::1:iqn.2024-01.org.example:disk`. */
export interface SanbootDecision {
  readonly kind: 'sanboot'
  readonly uri: string
  /** iSCSI initiator name (`set initiator-iqn`). */
  readonly initiatorIqn?: string
  /** Do not describe the SAN device to the OS (iPXE `--no-describe`). */
  readonly noDescribe?: boolean
}

/**
 * Ask for a username and password (iPXE `login`), then come back to /boot with them and `params`.
 * An authenticate hook checks them before any policy runs again.
 */
export interface LoginDecision {
  readonly kind: 'login'
  readonly params?: Readonly<Record<string, string>>
  /** Shown above the prompt, e.g. why the last attempt failed. */
  readonly message?: string
}

/** Render templates/<name>.ipxe with these variables. */
export interface TemplateDecision {
  readonly kind: 'template'
  readonly name: string
  readonly vars?: Readonly<Record<string, unknown>>
}

/** Leave iPXE: the firmware tries its next boot device (usually the local disk). */
export interface ExitDecision {
  readonly kind: 'exit'
  readonly message?: string
}

export interface ShellDecision {
  readonly kind: 'shell'
  readonly message?: string
}

export interface RebootDecision {
  readonly kind: 'reboot'
}

/** A decision kind contributed by a plugin; validated and rendered by that plugin's handler. */
export interface PluginDecision {
  readonly kind: `${string}.${string}`
  readonly [field: string]: unknown
}

export type CoreDecision = BootDecision | MenuDecision | ChainDecision | AgainDecision | SanbootDecision | LoginDecision | TemplateDecision | ExitDecision | ShellDecision | RebootDecision

export type Decision = CoreDecision | PluginDecision

export type DecisionKind = CoreDecision['kind']
