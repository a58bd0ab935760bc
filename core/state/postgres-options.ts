/**
 * Turns `state` config into pg connection options. The URL names host, port, database and user
 * only: a password in it is refused (URLs end up in logs, process lists and shell history), it
 * comes from `state.passwordFile` or the variable named by `state.passwordEnv` (PGPASSWORD).
 * Error messages name the setting that is wrong and never carry the URL's password or the secret.
 */
import { readFileSync } from 'node:fs'
import { BootpolicyError, messageOf } from '../errors/bp-error.js'

export interface PostgresStateConfig {
  readonly url: string
  readonly passwordFile?: string
  readonly passwordEnv: string
  readonly pool: { readonly max: number; readonly idleTimeoutMs: number }
  readonly connectTimeoutMs: number
  readonly statementTimeoutMs: number
  readonly lockTimeoutMs: number
  readonly migrate: 'auto' | 'manual'
  readonly sslmode?: 'disable' | 'require' | 'verify-full'
  readonly caFile?: string
}

export interface PgConnection {
  readonly host: string
  readonly port: number
  readonly database: string
  readonly user: string
  readonly password?: string
  readonly ssl?: false | { rejectUnauthorized: boolean; ca?: string; servername?: string }
  /** host:port/database as user — for logs and errors. */
  readonly display: string
}

function bad(details: string): BootpolicyError {
  return new BootpolicyError('BP_ERR_STATE_CONFIG', { details })
}

export function postgresConnection(cfg: PostgresStateConfig, env: NodeJS.ProcessEnv = process.env): PgConnection {
  let u: URL
  try {
    u = new URL(cfg.url)
  } catch {
    // No cause: the URL parser's error carries the input, which may hold a password.
    throw bad('state.url is not a URL (expected postgres://user@host:port/database)')
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw bad(`state.url must start with postgres:// (got ${u.protocol.slice(0, 20)})`)
  if (u.password) throw bad('state.url must not carry a password: put it in the file named by state.passwordFile, or in the PGPASSWORD environment variable')
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''))
  if (!database || database.includes('/')) throw bad('state.url must name the database (postgres://user@host:port/database)')
  const user = decodeURIComponent(u.username)
  if (!user) throw bad('state.url must name the user (postgres://user@host:port/database)')
  // A unix socket directory: postgres://user@/db?host=/run/postgresql
  const socketHost = u.searchParams.get('host')
  const host = socketHost ?? u.hostname.replace(/^\[|\]$/g, '')
  if (!host) throw bad('state.url must name a host, or a socket directory as ?host=/path')
  const port = u.port ? Number(u.port) : 5432
  for (const k of u.searchParams.keys())
    if (k !== 'host' && k !== 'sslmode') throw bad(`state.url has an unknown parameter ${JSON.stringify(k.slice(0, 40))} (known: host, sslmode; other settings are state.* keys)`)
  const sslmode = cfg.sslmode ?? (u.searchParams.get('sslmode') as PostgresStateConfig['sslmode'] | null) ?? 'disable'
  if (!['disable', 'require', 'verify-full'].includes(sslmode)) throw bad('sslmode must be disable, require or verify-full')
  let ssl: PgConnection['ssl'] = false
  if (sslmode !== 'disable') {
    let ca: string | undefined
    if (cfg.caFile) {
      try {
        ca = readFileSync(cfg.caFile, 'utf8')
      } catch (err) {
        throw bad(`state.caFile ${cfg.caFile} cannot be read: ${messageOf(err)}`)
      }
    }
    // require: encrypted but any certificate (libpq's meaning); verify-full: the name must match.
    ssl = sslmode === 'verify-full' ? { rejectUnauthorized: true, ...(ca ? { ca } : {}), servername: host } : { rejectUnauthorized: false }
  }
  const password = readPassword(cfg, env)
  return { host, port, database, user, ...(password !== undefined ? { password } : {}), ssl, display: `${user}@${host}:${port}/${database}` }
}

function readPassword(cfg: PostgresStateConfig, env: NodeJS.ProcessEnv): string | undefined {
  if (cfg.passwordFile) {
    let text: string
    try {
      text = readFileSync(cfg.passwordFile, 'utf8')
    } catch (err) {
      // The error names the file and the errno only: the file's content never reaches a message.
      throw bad(`state.passwordFile ${cfg.passwordFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    }
    const pw = text.replace(/\r?\n$/, '')
    if (!pw || pw.includes('\n')) throw bad(`state.passwordFile ${cfg.passwordFile} must hold the password on one line`)
    return pw
  }
  const fromEnv = env[cfg.passwordEnv]
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv
}
