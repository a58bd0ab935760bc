/**
 * auth-pam: checks /boot logins against PAM (node-linux-pam), auth and account phases, so an
 * expired or locked account is refused even with the right password. The principal's groups are
 * the user's groups as the system resolves them (`id -Gn`, through NSS), read without a shell.
 *
 * PAM calls go through a small concurrency limit: a refused password holds a libuv worker for
 * pam_unix's ~2 s fail delay, and the pool is shared with fs, dns.lookup and crypto.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { promisify } from 'node:util'
import { USERNAME_PATTERN, type AuthResult, type BootContext, type BootpolicyPlugin, type Credentials, type PluginApi } from 'bootpolicy/plugin'
import { BusyError, ConcurrencyLimit } from './concurrency-limit.js'

const run = promisify(execFile)

export interface AuthPamOptions {
  /** The PAM service: /etc/pam.d/<service>. */
  service?: string
  /** PAM calls at once (each may hold a libuv worker ~2 s). */
  concurrency?: number
  /** Logins waiting for a slot at most; more are refused as busy. */
  queueLimit?: number
  /** How long a login may wait for a slot. */
  queueTimeoutMs?: number
  /** Look up the user's groups with `id -Gn`. */
  groups?: boolean
  /** Where PAM service files live (tests only). */
  pamDir?: string
}

export const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    service: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', default: 'bootpolicy' },
    concurrency: { type: 'integer', minimum: 1, maximum: 64, default: 2 },
    queueLimit: { type: 'integer', minimum: 0, maximum: 10000, default: 32 },
    queueTimeoutMs: { type: 'integer', minimum: 0, maximum: 60000, default: 2500 },
    groups: { type: 'boolean', default: true },
    pamDir: { type: 'string', default: '/etc/pam.d' },
  },
} as const

/** PAM return codes (security/_pam_types.h) that mean "the user's fault", with the reason shown. */
const REFUSALS: Readonly<Record<number, string>> = {
  6: 'access denied for this account', // PAM_PERM_DENIED
  7: 'unknown user or wrong password', // PAM_AUTH_ERR
  11: 'too many failed attempts', // PAM_MAXTRIES
  12: 'password expired; change it before booting', // PAM_NEW_AUTHTOK_REQD
  13: 'account expired', // PAM_ACCT_EXPIRED
  27: 'password expired; change it before booting', // PAM_AUTHTOK_EXPIRED
}

type PamModule = { pamAuthenticatePromise(o: { username: string; password: string; serviceName?: string; remoteHost?: string }): Promise<number> }

export default function authPam(options: AuthPamOptions = {}): BootpolicyPlugin {
  // The host fills schema defaults into `options` after this factory returns: read them at setup.
  let opts: Required<AuthPamOptions>
  let pam: PamModule
  let limit: ConcurrencyLimit
  let log: PluginApi['logger']

  async function groupsOf(username: string): Promise<string[]> {
    if (!opts.groups) return []
    try {
      const { stdout } = await run('id', ['-Gn', '--', username], { timeout: 5000 })
      return stdout.trim().split(/\s+/).filter(Boolean)
    } catch (err) {
      log.warn({ err: { message: (err as Error).message } }, 'auth-pam: could not read the groups of an authenticated user')
      return []
    }
  }

  return {
    name: 'auth-pam',
    version: '0.1.0',
    bootpolicy: '^0.1.0',
    schema,
    async setup(api) {
      log = api.logger
      opts = {
        service: options.service ?? 'bootpolicy',
        concurrency: options.concurrency ?? 2,
        queueLimit: options.queueLimit ?? 32,
        queueTimeoutMs: options.queueTimeoutMs ?? 2500,
        groups: options.groups ?? true,
        pamDir: options.pamDir ?? '/etc/pam.d',
      }
      const file = `${opts.pamDir}/${opts.service}`
      // Without its file PAM silently uses /etc/pam.d/other (usually "deny"): say so at start instead.
      if (!existsSync(file)) throw new Error(`PAM service file ${file} does not exist; create it (see plugins/auth-pam/README.md) or set the "service" option`)
      // A string-typed specifier, not a literal: the build then compiles without the optional package installed.
      const optional: string = 'node-linux-pam'
      try {
        pam = ((await import(optional)) as unknown as { default: PamModule }).default
      } catch (err) {
        throw new Error(`node-linux-pam is not installed or not built (npm install node-linux-pam; needs libpam0g-dev): ${(err as Error).message}`)
      }
      limit = new ConcurrencyLimit(opts.concurrency, opts.queueLimit, opts.queueTimeoutMs)
      const pool = Number(process.env.UV_THREADPOOL_SIZE ?? 4)
      if (opts.concurrency >= pool) {
        log.warn({ concurrency: opts.concurrency, uvThreadpoolSize: pool }, 'auth-pam: concurrency >= UV_THREADPOOL_SIZE: failed logins can stall fs and dns; raise UV_THREADPOOL_SIZE')
      }
    },
    hooks: {
      async authenticate(ctx: BootContext, credentials: Credentials): Promise<AuthResult> {
        const { username, password } = credentials
        if (!USERNAME_PATTERN.test(username) || username.includes('@')) return undefined // not a local account name
        let code: number
        try {
          code = await limit.run(() => pam.pamAuthenticatePromise({ username, password, serviceName: opts.service, remoteHost: ctx.remoteAddress }))
        } catch (err) {
          if (err instanceof BusyError) throw new Error(`PAM is busy (${err.message}); raise "concurrency" and UV_THREADPOOL_SIZE if this is normal load`)
          const pamCode = (err as { code?: unknown }).code
          // PAM_USER_UNKNOWN: not this backend's user; the next one may know it (the host says
          // "unknown user or wrong password" when none does, and counts the failure).
          if (pamCode === 10) return undefined
          if (typeof pamCode === 'number' && REFUSALS[pamCode]) return { failed: REFUSALS[pamCode]! }
          // A broken stack (PAM_SERVICE_ERR, PAM_AUTHINFO_UNAVAIL, …): the backend failed, not the user.
          throw new Error(`PAM error ${String(pamCode)}: ${(err as Error).message.replace(/^Error: /, '')}`)
        }
        if (code !== 0) throw new Error(`PAM returned ${code}`)
        return { principal: { name: username, groups: await groupsOf(username), source: 'auth-pam' } }
      },
    },
  }
}
