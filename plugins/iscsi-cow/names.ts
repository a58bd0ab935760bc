/**
 * Names that end up in tgtd, in IQNs, in file paths and on kernel command lines. Everything is
 * validated here, once, and refused rather than rewritten.
 */
import { errors } from './errors.js'

/** An instance (image) name: `fc29`, `fedora-29`. */
export const INSTANCE_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/
/**
 * A user name as core's USERNAME_PATTERN accepts it, narrowed to what an IQN and a CHAP user name
 * can hold unchanged: lower-case letters, digits, `.` and `-` (no `_`, `@`, upper case).
 */
export const USER_PATTERN = /^[a-z0-9][a-z0-9.-]{0,63}$/
const HOST_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/

export function checkInstance(instance: string): string {
  if (!INSTANCE_PATTERN.test(instance)) {
    throw errors.create('BP_ERR_ISCSI_NAME', { what: 'instance', value: instance.slice(0, 64), reason: `must match ${INSTANCE_PATTERN}` })
  }
  return instance
}

export function checkUser(user: string): string {
  if (!USER_PATTERN.test(user) || user.includes('..')) {
    throw errors.create('BP_ERR_ISCSI_NAME', {
      what: 'user',
      value: user.slice(0, 64),
      reason: 'an iSCSI user name holds only lower-case letters, digits, "." and "-" (1-64, no "..")',
    })
  }
  return user
}

/** `server-01.example.edu` → `edu.example.server-01` (lower-cased; every label checked). */
export function reversedHostname(hostname: string): string {
  const labels = hostname.toLowerCase().replace(/\.$/, '').split('.')
  if (labels.length === 0 || labels.some((l) => !HOST_LABEL.test(l))) {
    throw errors.create('BP_ERR_ISCSI_NAME', { what: 'hostname', value: hostname.slice(0, 64), reason: 'expected DNS labels (letters, digits, -)' })
  }
  return labels.reverse().join('.')
}

/** The target name of one user's disk: `iqn.<reversed-hostname>:<instance>-<user>` (seed 000). */
export function targetIqn(reversedHost: string, instance: string, user: string): string {
  return `iqn.${reversedHost}:${checkInstance(instance)}-${checkUser(user)}`
}

/**
 * `fc29` + user `a-b` and `fc29-a` + user `b` would share one IQN. Refuse image names where one is
 * another's name plus `-`, so that an IQN always names exactly one (instance, user).
 */
export function ambiguousImageNames(names: readonly string[]): string[] {
  const problems: string[] = []
  for (const a of names) {
    for (const b of names) {
      if (a !== b && b.startsWith(`${a}-`)) problems.push(`images: "${b}" starts with "${a}-", so their IQNs could collide`)
    }
  }
  return problems
}

/** The account bound to every target besides the user's, so a target never accepts a login without CHAP. */
export function guardAccount(instance: string, user: string): string {
  // `_` cannot occur in USER_PATTERN, so no user's account can have this name.
  return `bp_guard_${instance}-${user}`
}
