/**
 * auth-kerberos: checks /boot logins against a Kerberos KDC, and then checks the KDC.
 *
 * 1. `checkPassword` (kerberos npm): an AS exchange with the user's password. Cheap, and it
 *    rejects wrong passwords without starting any process. On its own it proves nothing: whoever
 *    answers on the KDC's address can make it succeed (a spoofed KDC).
 * 2. Verification with the service keytab: `kinit` (password on stdin, never in argv) puts the
 *    user's TGT into a private ccache; the GSS client (`initializeClient`) obtains a ticket for the
 *    service principal and the GSS server (`initializeServer`, reading KRB5_KTNAME) accepts it.
 *    Only the real KDC knows the service key, so a forged ticket fails to decrypt. The accepted
 *    client principal must be the user.
 *
 * The ccache and keytab are process-wide (KRB5CCNAME / KRB5_KTNAME, read by the GSS library), so
 * step 2 runs one login at a time and one auth-kerberos instance is supported per process.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { USERNAME_PATTERN, type AuthResult, type BootContext, type BootpolicyPlugin, type Credentials, type PluginApi } from 'bootpolicy/plugin'
import { errors } from './errors.js'

export interface AuthKerberosOptions {
  /** The realm of usernames without `@REALM`; other realms are not this plugin's. */
  realm: string
  /** The service principal as a GSS host-based name: `HTTP@boot.example.org` (HTTP/boot.example.org@REALM). */
  service: string
  /** Keytab holding the service principal's key (readable by bootpolicy only). */
  keytab: string
  /** A krb5.conf for this process (sets KRB5_CONFIG); default: the system's /etc/krb5.conf. */
  krb5Config?: string
  /** The kinit binary (MIT krb5-user). */
  kinit?: string
  timeoutMs?: number
}

export const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['realm', 'service', 'keytab'],
  properties: {
    realm: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' },
    service: { type: 'string', pattern: '^[A-Za-z0-9_-]+@[A-Za-z0-9.-]+$' },
    keytab: { type: 'string', minLength: 1 },
    krb5Config: { type: 'string', minLength: 1 },
    kinit: { type: 'string', default: 'kinit' },
    timeoutMs: { type: 'integer', minimum: 100, maximum: 60000, default: 4000 },
  },
} as const

const REFUSED = 'unknown user or wrong password'

/** KDC answers that are the user's fault (by krb5 error text), and what the user is told. */
const REFUSALS: ReadonlyArray<[RegExp, string]> = [
  [/Decrypt integrity check failed|Preauthentication failed|Password incorrect/i, REFUSED],
  [/Client's entry in database has expired/i, 'account expired'],
  [/Password has expired/i, 'password expired; change it before booting'],
  [/Client's credentials have been revoked|locked/i, 'access denied for this account'],
]

type KerberosModule = {
  checkPassword(user: string, password: string, service: string, realm?: string): Promise<unknown>
  initializeClient(service: string, options?: { principal?: string; mechOID?: number }): Promise<{ step(challenge: string): Promise<string> }>
  initializeServer(service: string): Promise<{ step(challenge: string): Promise<unknown>; username?: string; contextComplete: boolean }>
  GSS_MECH_OID_KRB5: number
}

/** One at a time: the verification uses the process-wide ccache. */
class Mutex {
  private tail: Promise<void> = Promise.resolve()
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.tail
    let release!: () => void
    this.tail = new Promise((r) => (release = r))
    await prev
    try {
      return await fn()
    } finally {
      release()
    }
  }
}

export default function authKerberos(options: AuthKerberosOptions): BootpolicyPlugin {
  const o = options
  let krb: KerberosModule
  let log: PluginApi['logger']
  let ccacheDir: string
  let ccache: string
  const mutex = new Mutex()

  const timeoutMs = (): number => o.timeoutMs ?? 4000

  function kinit(principal: string, password: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, LANG: 'C', KRB5CCNAME: `FILE:${ccache}`, ...(process.env.KRB5_CONFIG && { KRB5_CONFIG: process.env.KRB5_CONFIG }) }
      const child = execFile(o.kinit ?? 'kinit', ['--', principal], { env, timeout: timeoutMs() }, (err, _stdout, stderr) => {
        if (err)
          reject(
            new Error(
              `kinit failed: ${
                String(stderr)
                  .replace(/Password for [^:]*:\s*/g, '')
                  .trim() || err.message
              }`,
            ),
          )
        else resolve()
      })
      child.stdin?.on('error', () => undefined)
      child.stdin?.end(`${password}\n`)
    })
  }

  /** The GSS round trip: a ticket for the service from the KDC, accepted with our keytab. */
  async function verifyKdc(principal: string, password: string): Promise<void> {
    await mutex.run(async () => {
      try {
        await kinit(principal, password)
        const client = await krb.initializeClient(o.service, { principal, mechOID: krb.GSS_MECH_OID_KRB5 })
        const token = await client.step('')
        const server = await krb.initializeServer(o.service)
        await server.step(token)
        if (!server.contextComplete || server.username !== principal) {
          throw new Error(`the service accepted ${String(server.username)} instead of ${principal}`)
        }
      } finally {
        rmSync(ccache, { force: true })
      }
    })
  }

  return {
    name: 'auth-kerberos',
    version: '0.1.0',
    bootpolicy: '^0.1.0',
    schema,
    errors,
    async setup(api) {
      log = api.logger
      if (!existsSync(o.keytab)) throw new Error(`keytab ${o.keytab} does not exist (kadmin: ktadd -k ${o.keytab} <service principal>)`)
      if (o.krb5Config) {
        if (!existsSync(o.krb5Config)) throw new Error(`krb5Config ${o.krb5Config} does not exist`)
        process.env.KRB5_CONFIG = o.krb5Config
      }
      if (process.env.KRB5_KTNAME && process.env.KRB5_KTNAME !== `FILE:${o.keytab}`) {
        log.warn({ previous: process.env.KRB5_KTNAME }, 'auth-kerberos: replacing KRB5_KTNAME for this process')
      }
      process.env.KRB5_KTNAME = `FILE:${o.keytab}`
      ccacheDir = join(api.stateDir, 'ccache')
      mkdirSync(ccacheDir, { recursive: true, mode: 0o700 })
      ccache = join(ccacheDir, 'verify')
      process.env.KRB5CCNAME = `FILE:${ccache}`
      // A string-typed specifier, not a literal: the build then compiles without the optional package installed.
      const optional: string = 'kerberos'
      try {
        krb = ((await import(optional)) as unknown as { default: KerberosModule }).default
      } catch (err) {
        throw new Error(`the kerberos package is not installed or not built (npm install kerberos; needs libkrb5-dev): ${(err as Error).message}`)
      }
    },
    async close() {
      if (ccacheDir) rmSync(ccacheDir, { recursive: true, force: true })
    },
    hooks: {
      async authenticate(_ctx: BootContext, credentials: Credentials): Promise<AuthResult> {
        const { username, password } = credentials
        if (!USERNAME_PATTERN.test(username)) return undefined
        const at = username.indexOf('@')
        // Another realm's name is not this plugin's to refuse.
        if (at !== -1 && username.slice(at + 1) !== o.realm) return undefined
        const name = at === -1 ? username : username.slice(0, at)
        if (name === '' || password === '') return { failed: REFUSED }
        const principal = `${name}@${o.realm}`
        try {
          await krb.checkPassword(principal, password, o.service, o.realm)
        } catch (err) {
          const message = (err as Error).message
          // Not in this realm's database: another backend may know the name.
          if (/Client not found/i.test(message)) return undefined
          const refusal = REFUSALS.find(([re]) => re.test(message))
          if (refusal) return { failed: refusal[1] }
          throw new Error(`KDC for ${o.realm} unavailable: ${message}`, { cause: err })
        }
        try {
          await verifyKdc(principal, password)
        } catch (err) {
          // The password was accepted by whoever answered as the KDC, but that answer could not be
          // verified with our keytab: a spoofed KDC, or a keytab out of date (kvno changed).
          log.error(
            { code: 'BPSEC_KRB5_KDC_UNVERIFIED', principal, err: { message: (err as Error).message } },
            'BPSEC_KRB5_KDC_UNVERIFIED auth-kerberos: the KDC could not be verified with the service keytab',
          )
          throw new Error(`KDC for ${o.realm} could not be verified with the keytab: ${(err as Error).message}`, { cause: err })
        }
        return { principal: { name, groups: [], source: 'auth-kerberos' } }
      },
    },
  }
}
