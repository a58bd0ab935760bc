/**
 * Drop from root to an unprivileged user once every port is bound (HTTP, DHCP 67/4011, TFTP 69),
 * so that a compromise after start holds no root. Order matters: supplementary groups, then the
 * group, then the user (after setuid the others are no longer allowed). Any failure is fatal: the
 * admin asked not to run as root, so serve exits rather than keep serving as root.
 */
import { accessSync, chownSync, constants, existsSync, mkdirSync } from 'node:fs'
import { userInfo } from 'node:os'
import { BootpolicyError, messageOf } from '../errors/bp-error.js'

export interface DropTarget {
  readonly user: string
  readonly group: string
  /** Must stay writable after the drop (leases, plugin state). */
  readonly stateDir: string
}

// Present on POSIX since Node 0.9; missing from @types/node.
const initgroups = (process as unknown as { initgroups?: (user: string, extraGroup: string | number) => void }).initgroups

export interface Dropped {
  readonly uid: number
  readonly gid: number
}

/**
 * Switch this process to `user`/`group` (names or numeric ids). Already running as that user: a
 * no-op check. A missing stateDir is created for the user; an existing one must be writable by it.
 */
export function dropPrivileges(target: DropTarget): Dropped {
  const fail = (details: string, cause?: unknown): never => {
    throw new BootpolicyError('BP_ERR_SERVER_PRIVILEGES', { user: `${target.user}:${target.group}`, details }, cause === undefined ? undefined : { cause })
  }
  if (!process.setuid || !process.seteuid || !process.setgid || !process.getuid || !initgroups || !process.setgroups) fail('this platform cannot switch users')
  const user = /^\d+$/.test(target.user) ? Number(target.user) : target.user
  const group = /^\d+$/.test(target.group) ? Number(target.group) : target.group
  if (process.getuid!() === 0) {
    try {
      if (typeof user === 'string') initgroups!(user, group)
      else process.setgroups!([group])
      process.setgid!(group)
    } catch (cause) {
      fail(`cannot switch to group ${target.group}: ${messageOf(cause)}`, cause)
    }
    let uid = 0
    try {
      // Node has no getpwnam: take the uid by switching the effective id there and back (root may).
      process.seteuid!(user)
      uid = process.geteuid!()
      process.seteuid!(0)
    } catch (cause) {
      fail(`cannot switch to user ${target.user}: ${messageOf(cause)}`, cause)
    }
    try {
      // Only a stateDir created here is handed over; an existing one is the admin's to chown.
      if (!existsSync(target.stateDir)) {
        mkdirSync(target.stateDir, { recursive: true, mode: 0o750 })
        chownSync(target.stateDir, uid, process.getgid!())
      }
    } catch (cause) {
      fail(`cannot create stateDir ${target.stateDir} for the user: ${messageOf(cause)}`, cause)
    }
    try {
      process.setuid!(user)
    } catch (cause) {
      fail(`cannot switch to user ${target.user}: ${messageOf(cause)}`, cause)
    }
  }
  const uid = process.getuid!()
  const gid = process.getgid!()
  const euid = process.geteuid?.() ?? uid
  if (uid === 0 || euid === 0) fail('still root after the switch')
  if (typeof user === 'number' ? uid !== user : userInfo().username !== user) fail(`running as uid ${uid}, not as ${target.user} (start serve as root to switch)`)
  // Root must be gone for good: setuid(0) has to fail now.
  try {
    process.setuid!(0)
    fail('could switch back to root')
  } catch (err) {
    if (err instanceof BootpolicyError) throw err
  }
  try {
    accessSync(target.stateDir, constants.W_OK | constants.X_OK)
  } catch (cause) {
    fail(`stateDir ${target.stateDir} is not writable by this user (chown it to ${target.user})`, cause)
  }
  return { uid, gid }
}
