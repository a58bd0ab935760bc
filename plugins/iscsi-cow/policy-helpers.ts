/**
 * `bootpolicy/plugins/iscsi-cow`: what a policy imports to ask for the authenticated user's
 * writable disk. Pure: bundled into the policy sandbox (no Node APIs, no I/O).
 *
 * The policy names the image and how to boot it; the plugin's prepare hook fills in the portal,
 * the IQN, the LUN and a fresh CHAP secret — fields a policy never sees and cannot set.
 */

/** Boot a kernel whose initramfs logs in to the disk (dracut: `netroot=iscsi:…`, `root=/dev/disk/by-path/…`). */
export interface IscsiCowKernelBoot {
  /** Kernel URL, e.g. `file:///linux/vmlinuz-4.19.5-300.fc29.x86_64` (seed 000) or `/files/fc29/vmlinuz`. */
  readonly kernel: string
  readonly initrds?: readonly string[]
  /** Kernel arguments besides `root=` and `netroot=`, which the plugin adds (e.g. `rw`, `ip=dhcp`). */
  readonly args?: readonly string[]
}

// A type alias, not an interface: only aliases are assignable to core's PluginDecision index signature.
export type IscsiCowDiskDecision = {
  readonly kind: 'iscsi-cow.disk'
  /** An image configured in the plugin's `images` option, e.g. `fc29`. */
  readonly image: string
  /** `sanboot` (iPXE attaches the disk; BIOS/UEFI boots it) or a kernel that mounts it itself. */
  readonly boot: 'sanboot' | IscsiCowKernelBoot
  /** Shown before booting. */
  readonly message?: string
}

/** The user's personal copy-on-write disk of `image`; needs an authenticated principal (`login()` first). */
export function iscsiCow(options: { image: string; boot?: 'sanboot' | IscsiCowKernelBoot; message?: string }): IscsiCowDiskDecision {
  const d: IscsiCowDiskDecision = { kind: 'iscsi-cow.disk', image: options.image, boot: options.boot ?? 'sanboot' }
  return options.message === undefined ? d : { ...d, message: options.message }
}

/** The user name the plugin will use for the disk, or undefined when it would refuse it. */
export function iscsiUser(principalName: string | undefined): string | undefined {
  return principalName !== undefined && /^[a-z0-9][a-z0-9.-]{0,63}$/.test(principalName) && !principalName.includes('..') ? principalName : undefined
}
