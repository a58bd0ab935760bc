/**
 * A real local user and a private PAM service for the auth-pam tests: `useradd` with a unique
 * name, `chpasswd` (password on stdin), an optional supplementary group, and
 * /etc/pam.d/bootpolicy-test-<random> with pam_unix for auth and account. Everything is removed
 * by `remove()` — call it from t.teardown — and, as a last resort, when the process exits.
 * Needs root; a missing tool fails the test naming it (never a skip).
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { rmSync, writeFileSync } from 'node:fs'
import { requireCommand } from './e2e-require.js'
import { trailSecret } from './secret-trail.js'

export interface PamUser {
  readonly username: string
  readonly password: string
  /** Supplementary group the user was put in. */
  readonly group: string
  /** The PAM service name (a file in /etc/pam.d). */
  readonly service: string
  /** `chage -E 0`: the account expired yesterday; pam_unix's account phase refuses it. */
  expire(): void
  remove(): void
}

const live = new Set<PamUser>()
let exitHook = false

export function createPamUser(options: { password?: string; pamAuth?: string } = {}): PamUser {
  if (process.getuid?.() !== 0) throw new Error('pam-user: creating a local user needs root')
  const useradd = requireCommand('useradd', 'passwd')
  const userdel = requireCommand('userdel', 'passwd')
  const groupadd = requireCommand('groupadd', 'passwd')
  const groupdel = requireCommand('groupdel', 'passwd')
  const chpasswd = requireCommand('chpasswd', 'passwd')
  const chage = requireCommand('chage', 'passwd')
  requireCommand('id', 'coreutils')

  const suffix = randomBytes(4).toString('hex')
  const username = `bpt${suffix}`
  const group = `bptg${suffix}`
  const service = `bootpolicy-test-${suffix}`
  const serviceFile = `/etc/pam.d/${service}`
  // A password with characters a shell or a URL would mangle: the plugin must pass it through untouched.
  const password = options.password ?? `Pw-${randomBytes(6).toString('hex')} &?#%'"$`
  trailSecret(password)
  let removed = false

  const user: PamUser = {
    username,
    password,
    group,
    service,
    expire() {
      execFileSync(chage, ['-E', '0', username])
    },
    remove() {
      if (removed) return
      removed = true
      live.delete(user)
      rmSync(serviceFile, { force: true })
      for (const [cmd, args] of [
        [userdel, [username]],
        [groupdel, [group]],
      ] as const) {
        try {
          execFileSync(cmd, [...args], { stdio: 'ignore' })
        } catch {
          // already gone
        }
      }
    },
  }
  live.add(user)
  if (!exitHook) {
    exitHook = true
    process.once('exit', () => {
      for (const u of [...live]) u.remove()
    })
  }
  try {
    execFileSync(groupadd, [group])
    execFileSync(useradd, ['--no-create-home', '--shell', '/usr/sbin/nologin', '--user-group', '--groups', group, username])
    execFileSync(chpasswd, [], { input: `${username}:${password}\n` })
    writeFileSync(serviceFile, options.pamAuth ?? '# bootpolicy test service (removed after the test)\nauth    required pam_unix.so\naccount required pam_unix.so\n')
  } catch (err) {
    user.remove()
    throw err
  }
  return user
}
