/**
 * A throwaway MIT KDC on loopback for the auth-kerberos tests: a private krb5.conf and kdc.conf
 * (KRB5_CONFIG / KRB5_KDC_PROFILE) in a temp dir, `kdb5_util create -s` with a random master
 * password, principals added with `kadmin.local`, the service key exported with `ktadd`, and
 * `krb5kdc -n` on a free high port (TCP and UDP). `remove()` kills it and deletes the dir.
 * Two KDCs may share a realm: that is how the tests build a spoofed KDC.
 * A missing tool fails the test naming it and its Debian package.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { trailSecret } from './secret-trail.js'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { waitForTcp } from './wait-for-tcp.js'
import { requireCommand } from './e2e-require.js'
import { freePort } from './slapd.js'

const run = promisify(execFile)

export const REALM = 'BOOTPOLICY.TEST'
export const SERVICE_HOST = 'boot.bootpolicy.test'

export interface Kdc {
  readonly realm: string
  readonly port: number
  readonly dir: string
  /** A krb5.conf that points at this KDC only. */
  readonly krb5Config: string
  /** Keytab with the service principal's key (HTTP/boot.bootpolicy.test). */
  readonly keytab: string
  /** The service as the plugin names it: `HTTP@boot.bootpolicy.test`. */
  readonly service: string
  readonly env: NodeJS.ProcessEnv
  addUser(name: string, password: string): Promise<void>
  remove(): Promise<void>
}

const live = new Set<ChildProcess>()
let exitHook = false

export async function startKdc(options: { realm?: string } = {}): Promise<Kdc> {
  const kdb5Util = requireCommand('kdb5_util', 'krb5-kdc')
  const krb5kdc = requireCommand('krb5kdc', 'krb5-kdc')
  const kadminLocal = requireCommand('kadmin.local', 'krb5-admin-server')
  requireCommand('kinit', 'krb5-user')
  const realm = options.realm ?? REALM
  const dir = mkdtempSync(join(tmpdir(), 'bp-kdc-'))
  const port = await freePort()
  const krb5Config = join(dir, 'krb5.conf')
  const kdcProfile = join(dir, 'kdc.conf')
  const keytab = join(dir, 'service.keytab')
  writeFileSync(
    krb5Config,
    `[libdefaults]
  default_realm = ${realm}
  dns_lookup_kdc = false
  dns_lookup_realm = false
  dns_canonicalize_hostname = false
  rdns = false
  udp_preference_limit = 1
  default_ccache_name = FILE:${dir}/default.ccache
  default_keytab_name = FILE:${keytab}
[realms]
  ${realm} = {
    kdc = 127.0.0.1:${port}
  }
[domain_realm]
  .bootpolicy.test = ${realm}
  bootpolicy.test = ${realm}
`,
  )
  writeFileSync(
    kdcProfile,
    `[kdcdefaults]
  kdc_listen = 127.0.0.1:${port}
  kdc_tcp_listen = 127.0.0.1:${port}
[realms]
  ${realm} = {
    database_name = ${dir}/principal
    key_stash_file = ${dir}/stash
    acl_file = ${dir}/kadm5.acl
    max_life = 1h
    supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
  }
[logging]
  kdc = FILE:${dir}/kdc.log
  admin_server = FILE:${dir}/kadmin.log
`,
  )
  writeFileSync(join(dir, 'kadm5.acl'), '')
  const env = { ...process.env, KRB5_CONFIG: krb5Config, KRB5_KDC_PROFILE: kdcProfile }
  let child: ChildProcess | undefined
  const remove = async (): Promise<void> => {
    const proc = child
    child = undefined
    if (proc && proc.exitCode === null) {
      proc.kill('SIGTERM')
      await once(proc, 'exit')
    }
    rmSync(dir, { recursive: true, force: true })
  }
  const kadmin = (query: string) => run(kadminLocal, ['-r', realm, '-q', query], { env, timeout: 20_000 })
  try {
    const masterPassword = randomBytes(16).toString('hex')
    trailSecret(masterPassword)
    await run(kdb5Util, ['create', '-s', '-r', realm, '-P', masterPassword], { env, timeout: 60_000 })
    await kadmin(`addprinc -randkey HTTP/${SERVICE_HOST}`)
    await kadmin(`ktadd -k ${keytab} HTTP/${SERVICE_HOST}`)
    const proc = spawn(krb5kdc, ['-n', '-r', realm], { env, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    proc.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    child = proc
    live.add(proc)
    proc.once('exit', () => live.delete(proc))
    if (!exitHook) {
      exitHook = true
      process.once('exit', () => {
        for (const p of live) p.kill('SIGKILL')
      })
    }
    await waitForTcp(port, proc, 'krb5kdc', () => stderr)
  } catch (err) {
    await remove()
    throw err
  }
  return {
    realm,
    port,
    dir,
    krb5Config,
    keytab,
    service: `HTTP@${SERVICE_HOST}`,
    env,
    async addUser(name, password) {
      trailSecret(password)
      await kadmin(`addprinc -pw ${password} ${name}`)
    },
    remove,
  }
}
