/**
 * Copy-on-write backends: each turns (read-only base, per-user overlay) into something tgtd can
 * export as a writable LUN. Chosen by detection unless the config names one:
 * - `dm-snapshot` (seed 000): loop devices and a device-mapper snapshot; needs /dev/mapper/control.
 * - `qcow2`: a qcow2 overlay over the raw base, exported as a plain file through FUSE by
 *   qemu-storage-daemon; needs only /dev/fuse. This is the one that runs on hosts without
 *   device-mapper (containers, this project's CI).
 */
import { existsSync } from 'node:fs'

export type BackendName = 'qcow2' | 'dm-snapshot'

export interface DiskPaths {
  /** The user's writes (kept until `bootpolicy iscsi reset --discard`). */
  readonly overlay: string
  /** What tgtd's LUN reads and writes. */
  readonly device: string
}

export interface CowBackend {
  readonly name: BackendName
  paths(instance: string, user: string): DiskPaths
  /** Creates the overlay under its final name atomically (temp name, then rename). */
  createOverlay(base: string, overlay: string): Promise<void>
  /**
   * Makes the device available, adopting a running one. `started` is true when it was (re)made by
   * this call: a LUN still pointing at an earlier instance of it must then be replaced.
   */
  ensureDevice(instance: string, user: string, base: string): Promise<{ started: boolean }>
  /** True when the device is there and usable (for `bootpolicy iscsi list`). */
  deviceUp(instance: string, user: string): Promise<boolean>
  /** Stops the device. Call only after tgtd's LUN on it is gone. Never touches the overlay. */
  removeDevice(instance: string, user: string): Promise<void>
  /** Bytes the overlay occupies on disk (allocated blocks, not its apparent size). */
  overlayBytes(overlay: string): Promise<number>
}

export interface DetectProbe {
  exists(path: string): boolean
}

/**
 * `auto` picks dm-snapshot where the kernel's device-mapper is reachable (/dev/mapper/control),
 * qcow2 otherwise.
 */
export function detectBackend(setting: 'auto' | BackendName, probe: DetectProbe = { exists: existsSync }): BackendName {
  if (setting !== 'auto') return setting
  return probe.exists('/dev/mapper/control') ? 'dm-snapshot' : 'qcow2'
}
