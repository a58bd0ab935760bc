/**
 * Issue 10, class 8: a /boot query's mac=, uuid= and ip= are the client's own claims. Two hosts on
 * real loopback addresses (127.0.0.2 the victim, 127.0.0.3 the attacker, 127.0.0.4 a bystander)
 * talk to the app listening on 127.0.0.1, over real HTTP and real TFTP (curl --interface).
 */
import t from 'tap'
import http from 'node:http'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from '../../../core/http/build-app.js'
import { resolveTftpConfig } from '../../../core/tftp/config-schema.js'
import { createTftpService } from '../../../core/tftp/tftp-service.js'
import { captureLogs } from '../../../test/helpers/log-capture.js'
import { tempPolicies } from '../../../test/helpers/policy-dir.js'
import { curlGet } from '../../../test/helpers/tftp.js'
import { pxelinuxNames, swapUuid } from '../lookup-names.js'

type Tap = { teardown(fn: () => unknown): void }
type Fetch = (name: string, from: string) => Promise<string | undefined>

const VICTIM = '127.0.0.2'
const ATTACKER = '127.0.0.3'
const BYSTANDER = '127.0.0.4'
const MAC = '52:54:00:aa:bb:02'
const UUID = '8a5e4a2b-1c3d-4e5f-8a9b-0c1d2e3f4a5b'

// Every client gets pxelinux; its APPEND carries the role it asked for, so a file shows whose it is.
const POLICY = `import { pxelinuxChain } from 'bootpolicy/plugins/pxelinux-cfg'
export default (ctx: any) => pxelinuxChain({ entries: [{ label: 'linux', kernel: 'vmlinuz', append: 'role=' + (ctx.params.role ?? 'none') }] })`

/** Every name the victim's pxelinux may ask for: its lookup order plus iPXE's UUID byte order. */
const victimNames = [...pxelinuxNames({ uuid: swapUuid(UUID), mac: MAC, ip: VICTIM }).filter((n) => !n.endsWith('/default')), `pxelinux.cfg/${UUID}`]
const victimQuery = `mac=${encodeURIComponent(MAC)}&uuid=${UUID}&ip=${VICTIM}&role=victim`
const attackQuery = `mac=${encodeURIComponent(MAC)}&uuid=${UUID}&ip=${VICTIM}&role=evil`

/** GET over a real socket whose source address is `from`. */
function httpGet(port: number, path: string, from: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, localAddress: from, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
  })
}

async function start(t: Tap, options: Record<string, unknown> = {}) {
  const dir = tempPolicies({ 'p.ts': POLICY })
  t.teardown(() => dir.remove())
  const bp = await build(dir.config({ plugins: [{ name: 'pxelinux-cfg', options }] }), { logger: captureLogs('warn').logger })
  t.teardown(() => bp.close())
  await bp.app.listen({ host: '127.0.0.1', port: 0 })
  const port = (bp.app.server.address() as { port: number }).port
  const boot = async (query: string, from: string) => {
    const res = await httpGet(port, `/boot?${query}`, from)
    if (!/\nchain \/files\/lpxelinux\.0 /.test(res.body)) throw new Error(`/boot from ${from} did not chain pxelinux: ${res.body}`)
  }
  const overHttp: Fetch = async (name, from) => {
    const res = await httpGet(port, `/files/${name}`, from)
    return res.status === 200 ? res.body : undefined
  }
  return { bp, boot, overHttp }
}

async function tftpFetcher(t: Tap, bp: Awaited<ReturnType<typeof start>>['bp']): Promise<Fetch> {
  const base = mkdtempSync(join(tmpdir(), 'bp-pxe-peer-'))
  mkdirSync(join(base, 'root'))
  t.teardown(() => rmSync(base, { recursive: true, force: true }))
  const tftp = createTftpService(resolveTftpConfig({ enabled: true, address: '127.0.0.1', port: 0, root: join(base, 'root') }), {
    logger: captureLogs('warn').logger,
    virtualFile: (path, client) => bp.plugins.virtualFile(path, { ...client, protocol: 'tftp' }),
  })
  await tftp.start()
  t.teardown(() => tftp.close())
  const port = tftp.address().port
  let n = 0
  return async (name, from) => {
    const file = join(base, `out-${n++}`)
    // --interface binds curl's UDP socket: the RRQ comes from `from`, as the server sees it.
    const r = await curlGet(port, name, file, ['--interface', from])
    return r.code === 0 ? readFileSync(file, 'utf8') : undefined
  }
}

/** What `from` gets for each of the victim's names. */
async function fetchAll(fetch: Fetch, from: string): Promise<Record<string, string | undefined>> {
  const out: Record<string, string | undefined> = {}
  for (const name of victimNames) out[name] = await fetch(name, from)
  return out
}

const roleOf = (body: string | undefined): string | undefined => (body === undefined ? undefined : /role=(\S+)/.exec(body)?.[1])

t.test("hazard: a host claiming another machine's uuid, mac and ip= does not replace that machine's files", async (t) => {
  const { boot, overHttp } = await start(t)
  await boot(victimQuery, VICTIM)
  await boot(attackQuery, ATTACKER)
  // And once more with only the victim's ip= and a MAC of its own.
  await boot(`mac=52%3A54%3A00%3Aee%3Aee%3Aee&ip=${VICTIM}&role=evil`, ATTACKER)
  const got = await fetchAll(overHttp, VICTIM)
  for (const name of victimNames) {
    // 7F000002's shorter prefixes are group files: nobody's, before and after.
    const expected = /\/[0-9A-F]{1,7}$/.test(name) ? undefined : 'victim'
    t.equal(roleOf(got[name]), expected, `${name} for the victim`)
  }
})

for (const [transport, fetcher] of [
  ['TFTP', async (t: Tap, s: Awaited<ReturnType<typeof start>>) => tftpFetcher(t, s.bp)],
  ['HTTP', async (_t: Tap, s: Awaited<ReturnType<typeof start>>) => s.overHttp],
] as const) {
  t.test(`hazard: over real ${transport}, another address gets nothing of a machine's file; the machine still gets its own`, async (t) => {
    const s = await start(t)
    const fetch = await fetcher(t, s)
    await s.boot(victimQuery, VICTIM)
    await s.boot(attackQuery, ATTACKER)

    const bystander = await fetchAll(fetch, BYSTANDER)
    t.same(
      Object.values(bystander).filter((b) => b !== undefined),
      [],
      'an address that never asked /boot gets none of the names',
    )
    const attacker = await fetchAll(fetch, ATTACKER)
    t.notOk(
      Object.values(attacker).some((b) => roleOf(b) === 'victim'),
      "the attacker never gets the victim's file",
    )
    t.equal(attacker['pxelinux.cfg/7F000002'], undefined, "the victim's address in hex: nothing for another address")
    t.equal(roleOf(attacker[`pxelinux.cfg/01-${MAC.replaceAll(':', '-')}`]), 'evil', "the claimed MAC names only the claimant's own file, for the claimant")

    const victim = await fetchAll(fetch, VICTIM)
    t.equal(roleOf(victim[`pxelinux.cfg/${swapUuid(UUID)}`]), 'victim', 'the first name pxelinux tries')
    t.equal(roleOf(victim[`pxelinux.cfg/01-${MAC.replaceAll(':', '-')}`]), 'victim')
    t.equal(roleOf(victim['pxelinux.cfg/7F000002']), 'victim')
  })
}

t.test("hazard: one host claiming many identities does not evict other machines' files", async (t) => {
  const { boot, overHttp } = await start(t, { maxClients: 4 })
  await boot(victimQuery, VICTIM)
  for (let i = 0; i < 20; i++) {
    const hex = i.toString(16).padStart(2, '0')
    await boot(`mac=52%3A54%3A00%3A00%3A00%3A${hex}&uuid=${UUID.slice(0, -2)}${hex}&role=evil`, ATTACKER)
  }
  t.equal(roleOf(await overHttp(`pxelinux.cfg/01-${MAC.replaceAll(':', '-')}`, VICTIM)), 'victim', 'still remembered: the attacker holds one entry, its address')
  t.equal(await overHttp('pxelinux.cfg/01-52-54-00-00-00-00', ATTACKER), undefined, "the attacker's earlier claims are replaced by its last /boot")
  t.equal(roleOf(await overHttp('pxelinux.cfg/01-52-54-00-00-00-13', ATTACKER)), 'evil')
})
