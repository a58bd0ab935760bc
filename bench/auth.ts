/**
 * Authentication cost, against the real test services (a local PAM user, a throwaway MIT KDC, a
 * throwaway slapd), in one run:
 * - authenticated /boot requests per second per backend, as a ratio to unauthenticated /boot on the
 *   same app (the backend is called on every login: nothing about a password is cached);
 * - the effect of 20 failed PAM logins kept in flight (each holds a libuv worker ~2 s) on the p99
 *   of unauthenticated /boot, and on a static file (fs, i.e. the libuv pool) with auth-pam's
 *   concurrency limit (2) and without it (20).
 * The load generator (autocannon) runs in the server's process: both sides of each ratio pay that.
 * Needs root (useradd, /etc/pam.d). Run: npm run bench -- auth, or node --import tsx bench/auth.ts
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { validateConfig } from '../core/config/load-config.js'
import { build, type Bootpolicy } from '../core/http/build-app.js'
import { createPamUser } from '../test/helpers/pam-user.js'
import { startKdc } from '../test/helpers/kdc.js'
import { BASE_DN, startSlapd } from '../test/helpers/slapd.js'
import { load, type BenchResult, type Figure } from './lib.js'

const hex = (s: string): string => (Buffer.from(s).toString('hex').match(/../g) ?? []).join(':')
const loginPath = (u: string, p: string): string => `/boot?mac=52:54:00:12:34:56&buildarch=x86_64&platform=efi&username_hex=${hex(u)}&password_hex=${hex(p)}`
const ANON = ['/boot?mac=52:54:00:12:34:56&buildarch=x86_64&platform=efi']
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4)

async function app(dir: string, plugins: object[]): Promise<{ bp: Bootpolicy; port: number }> {
  const config = validateConfig(
    {
      policies: { dir: join(dir, 'policies'), watch: false },
      templates: { dir: join(dir, 'templates') },
      files: { dir: join(dir, 'files') },
      stateDir: join(dir, 'state'),
      log: { level: 'silent' },
      pluginTimeouts: { hookMs: 10_000 },
      plugins,
    },
    dir,
  )
  const bp = await build(config)
  await bp.app.listen({ host: '127.0.0.1', port: 0 })
  return { bp, port: (bp.app.server.address() as { port: number }).port }
}

/** Keeps `n` failed PAM logins in flight (distinct users and addresses: the login limits never trigger). */
function failedLogins(bp: Bootpolicy, n: number): { stop(): Promise<void> } {
  let running = true
  let seq = 0
  const worker = async (): Promise<void> => {
    while (running) {
      const i = seq++
      await bp.app.inject({ url: loginPath(`nobody${i}`, 'wrong'), remoteAddress: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` })
    }
  }
  const workers = Array.from({ length: n }, worker)
  return {
    async stop() {
      running = false
      await Promise.all(workers)
    },
  }
}

export async function run(): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bp-bench-auth-'))
  for (const d of ['policies', 'templates', 'files']) mkdirp(join(dir, d))
  writeFileSync(join(dir, 'policies', 'p.ts'), `export default (ctx: any) => ({ kind: 'exit', message: ctx.auth.status })`)
  writeFileSync(join(dir, 'files', 'vmlinuz'), Buffer.alloc(64 * 1024, 1))
  const user = createPamUser()
  const kdc = await startKdc()
  const slapd = await startSlapd()
  const figures: Figure[] = []
  try {
    await kdc.addUser('kuser', 'kpass-bench-1')
    const backends: [string, object, string, string][] = [
      ['PAM', { name: 'auth-pam', options: { service: user.service } }, user.username, user.password],
      ['Kerberos', { name: 'auth-kerberos', options: { realm: kdc.realm, service: kdc.service, keytab: kdc.keytab, krb5Config: kdc.krb5Config } }, 'kuser', 'kpass-bench-1'],
      ['LDAP', { name: 'ldap', options: { url: slapd.url, bindDn: `uid={username},ou=people,${BASE_DN}` } }, 'alice', slapd.users.alice.password],
    ]
    for (const [label, plugin, u, p] of backends) {
      const { bp, port } = await app(dir, [plugin])
      try {
        const anon = await load(port, ANON, { connections: 8, seconds: SECONDS })
        const auth = await load(port, [loginPath(u, p)], { connections: 8, seconds: SECONDS })
        if (auth.errors) throw new Error(`${label}: ${auth.errors} errors`)
        const check = await bp.app.inject(loginPath(u, p))
        if (!check.body.includes('echo authenticated')) throw new Error(`${label}: the login did not authenticate: ${check.body}`)
        figures.push({
          name: `${label}: authenticated /boot`,
          value: round(auth.rps),
          unit: 'req/s',
          ratio: auth.rps / anon.rps,
          baseline: `unauthenticated /boot with ${label} loaded (${round(anon.rps)} req/s)`,
        })
      } finally {
        await bp.close()
      }
    }

    for (const concurrency of [2, 20]) {
      const { bp, port } = await app(dir, [{ name: 'auth-pam', options: { service: user.service, concurrency, queueLimit: 1000, queueTimeoutMs: 8000 } }])
      try {
        const idleBoot = await load(port, ANON, { connections: 8, seconds: SECONDS })
        const idleFile = await load(port, ['/files/vmlinuz'], { connections: 8, seconds: SECONDS })
        const busy = failedLogins(bp, 20)
        await new Promise((r) => setTimeout(r, 300))
        const busyBoot = await load(port, ANON, { connections: 8, seconds: SECONDS })
        const busyFile = await load(port, ['/files/vmlinuz'], { connections: 8, seconds: SECONDS })
        const tag = concurrency === 2 ? 'auth-pam concurrency 2 (default)' : 'concurrency 20 (no effective limit)'
        if (concurrency === 2) {
          figures.push({ name: 'unauthenticated /boot p99, idle', value: idleBoot.p99, unit: 'ms' })
          figures.push({
            name: `unauthenticated /boot p99 during 20 failed PAM logins in flight, ${tag}`,
            value: busyBoot.p99,
            unit: 'ms',
            ratio: busyBoot.p99 / Math.max(idleBoot.p99, 1),
            baseline: 'idle p99',
            target: '≤ 2×',
          })
        }
        await busy.stop()
        // autocannon reports p99 0 when nothing completed: report the completed count beside it.
        figures.push({
          name: `static file (libuv pool) requests completed in ${SECONDS} s during 20 failed PAM logins, ${tag}`,
          value: busyFile.requests,
          unit: 'requests',
          ratio: busyFile.requests / Math.max(idleFile.requests, 1),
          baseline: `idle (${idleFile.requests})`,
        })
        if (busyFile.requests > 0) {
          figures.push({
            name: `static file p99 during 20 failed PAM logins, ${tag}`,
            value: busyFile.p99,
            unit: 'ms',
            ratio: busyFile.p99 / Math.max(idleFile.p99, 1),
            baseline: `idle p99 (${idleFile.p99} ms)`,
            ...(concurrency === 2 && { target: '≤ 2×' }),
          })
        }
      } finally {
        await bp.close()
      }
    }
  } finally {
    user.remove()
    await kdc.remove()
    await slapd.remove()
    rmSync(dir, { recursive: true, force: true })
  }
  return { name: 'authentication', figures }
}

function mkdirp(path: string): void {
  mkdirSync(path, { recursive: true })
}

const round = (n: number): number => Math.round(n * 10) / 10

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await run(), null, 2))
}
