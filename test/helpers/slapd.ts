/**
 * A throwaway OpenLDAP server on loopback for the ldap plugin's tests: slapd 2.5 with a private
 * slapd.conf (mdb backend, memberof overlay) in a temp dir, plain LDAP and LDAPS (a self-signed
 * certificate for 127.0.0.1, also used for StartTLS) on free high ports, a few users, groups and
 * hosts loaded with ldapadd. `stop()`/`start()` simulate an outage; `remove()` kills it and deletes
 * the dir (call it from t.teardown; a process exit hook is the last resort).
 * A missing tool fails the test naming it and its Debian package.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createSelfSignedCert } from '../../core/cli/cert-command.js'
import { requireCommand } from './e2e-require.js'
import { waitForTcp } from './wait-for-tcp.js'
import { trailSecret } from './secret-trail.js'

const run = promisify(execFile)

export const BASE_DN = 'dc=example,dc=org'

export interface LdapUser {
  readonly uid: string
  readonly password: string
  readonly dn: string
  readonly groups: readonly string[]
}

export interface Slapd {
  readonly url: string
  readonly ldapsUrl: string
  /** The self-signed certificate of 127.0.0.1 (trust it as a CA). */
  readonly caFile: string
  readonly dir: string
  readonly serviceDn: string
  readonly servicePassword: string
  readonly users: { readonly alice: LdapUser; readonly bob: LdapUser }
  /** A host entry (device + ieee802Device) by MAC. */
  readonly host: { readonly mac: string; readonly cn: string; readonly l: string; readonly description: string }
  stop(): Promise<void>
  start(): Promise<void>
  remove(): Promise<void>
}

const live = new Set<ChildProcess>()
let exitHook = false

export async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

export async function startSlapd(): Promise<Slapd> {
  const slapdBin = requireCommand('slapd', 'slapd')
  const ldapadd = requireCommand('ldapadd', 'ldap-utils')
  requireCommand('openssl', 'openssl')
  const dir = mkdtempSync(join(tmpdir(), 'bp-slapd-'))
  mkdirSync(join(dir, 'db'))
  const rootPw = randomBytes(12).toString('hex')
  const servicePassword = randomBytes(12).toString('hex')
  const [port, tlsPort] = [await freePort(), await freePort()]
  const cert = await createSelfSignedCert({ name: '127.0.0.1', outDir: join(dir, 'tls') })
  const conf = join(dir, 'slapd.conf')
  writeFileSync(
    conf,
    [
      ...['core', 'cosine', 'inetorgperson', 'nis'].map((s) => `include /etc/ldap/schema/${s}.schema`),
      `pidfile ${dir}/slapd.pid`,
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      'moduleload memberof',
      `TLSCertificateFile ${cert.certFile}`,
      `TLSCertificateKeyFile ${cert.keyFile}`,
      'database mdb',
      'maxsize 16777216',
      `suffix "${BASE_DN}"`,
      `rootdn "cn=admin,${BASE_DN}"`,
      `rootpw ${rootPw}`,
      `directory ${dir}/db`,
      'overlay memberof',
      'access to attrs=userPassword by anonymous auth by * none',
      `access to * by dn.exact="cn=bootpolicy,ou=services,${BASE_DN}" read by users read by anonymous auth`,
      '',
    ].join('\n'),
  )

  const users = {
    alice: { uid: 'alice', password: `alice-${randomBytes(6).toString('hex')}`, dn: `uid=alice,ou=people,${BASE_DN}`, groups: ['lab', 'staff'] },
    bob: { uid: 'bob.smith', password: `bob-${randomBytes(6).toString('hex')}`, dn: `uid=bob.smith,ou=people,${BASE_DN}`, groups: ['staff'] },
  }
  const host = { mac: '52:54:00:12:34:56', cn: 'ws01', l: 'rack 4', description: 'lab workstation' }
  const carolPassword = randomBytes(8).toString('hex')
  for (const secret of [rootPw, servicePassword, carolPassword, ...Object.values(users).map((u) => u.password)]) trailSecret(secret)
  const ldif = [
    `dn: ${BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n`,
    ...['people', 'groups', 'hosts', 'services'].map((ou) => `dn: ou=${ou},${BASE_DN}\nobjectClass: organizationalUnit\nou: ${ou}\n`),
    `dn: cn=bootpolicy,ou=services,${BASE_DN}\nobjectClass: applicationProcess\nobjectClass: simpleSecurityObject\ncn: bootpolicy\nuserPassword: ${servicePassword}\n`,
    ...Object.values(users).map((u) => `dn: ${u.dn}\nobjectClass: inetOrgPerson\nuid: ${u.uid}\ncn: ${u.uid}\nsn: ${u.uid}\nuserPassword: ${u.password}\n`),
    // A user whose uid is a filter wildcard's victim: `*` must never match it by accident.
    `dn: uid=carol,ou=people,${BASE_DN}\nobjectClass: inetOrgPerson\nuid: carol\ncn: carol\nsn: carol\nuserPassword: ${carolPassword}\n`,
    `dn: cn=lab,ou=groups,${BASE_DN}\nobjectClass: groupOfNames\ncn: lab\nmember: ${users.alice.dn}\n`,
    `dn: cn=staff,ou=groups,${BASE_DN}\nobjectClass: groupOfNames\ncn: staff\nmember: ${users.alice.dn}\nmember: ${users.bob.dn}\n`,
    `dn: cn=${host.cn},ou=hosts,${BASE_DN}\nobjectClass: device\nobjectClass: ieee802Device\ncn: ${host.cn}\nmacAddress: ${host.mac}\nl: ${host.l}\ndescription: ${host.description}\nserialNumber: SN-0001\n`,
  ].join('\n')

  let child: ChildProcess | undefined
  const start = async (): Promise<void> => {
    const proc = spawn(slapdBin, ['-f', conf, '-h', `ldap://127.0.0.1:${port}/ ldaps://127.0.0.1:${tlsPort}/`, '-d', '0'], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    proc.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    live.add(proc)
    proc.once('exit', () => live.delete(proc))
    child = proc
    try {
      await waitForTcp(port, proc, 'slapd')
      await waitForTcp(tlsPort, proc, 'slapd')
    } catch (err) {
      proc.kill('SIGKILL')
      throw new Error(`${(err as Error).message}: ${stderr.trim().slice(-800)}`)
    }
  }
  const stop = async (): Promise<void> => {
    const proc = child
    child = undefined
    if (!proc || proc.exitCode !== null) return
    proc.kill('SIGTERM')
    await once(proc, 'exit')
  }
  if (!exitHook) {
    exitHook = true
    process.once('exit', () => {
      for (const p of live) p.kill('SIGKILL')
    })
  }
  try {
    await start()
    const add = run(ldapadd, ['-x', '-H', `ldap://127.0.0.1:${port}/`, '-D', `cn=admin,${BASE_DN}`, '-w', rootPw], { timeout: 10_000 })
    add.child.stdin!.end(ldif)
    await add
  } catch (err) {
    await stop()
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  return {
    url: `ldap://127.0.0.1:${port}`,
    ldapsUrl: `ldaps://127.0.0.1:${tlsPort}`,
    caFile: cert.certFile,
    dir,
    serviceDn: `cn=bootpolicy,ou=services,${BASE_DN}`,
    servicePassword,
    users,
    host,
    stop,
    start,
    async remove() {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
