import t, { type Test } from 'tap'
import dgram from 'node:dgram'
import path from 'node:path'
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { SECRET, atftpGet, atftpPut, curlGet, curlPut, errorCodeOf, makeTftpTree, opcodeOf, rawExchange, rrq, sha256File, startTftp } from '../../helpers/tftp.js'

const tree = makeTftpTree()
t.teardown(() => tree.cleanup())
let hangRelease: (() => void) | undefined
const { service, port, logs } = await startTftp(tree.root, { virtualFileTimeoutMs: 300 }, async (file) => {
  if (file === 'throws') throw new Error('plugin exploded')
  if (file === 'throws-sync')
    return (() => {
      throw new Error('sync')
    })()
  if (file === 'hangs')
    return new Promise<undefined>((resolve) => {
      hangRelease = () => resolve(undefined)
    })
  if (file === 'garbage') return 'not a buffer' as unknown as Buffer
  return undefined
})
t.teardown(async () => {
  hangRelease?.()
  await service.close()
})
const out = (name: string) => path.join(tree.base, `out-${name}-${Math.random().toString(36).slice(2)}`)
const leaked = (file: string) => existsSync(file) && readFileSync(file).includes(SECRET)

/** A request refused with an ERROR packet and no DATA at all. */
async function refusedRaw(t: Test, packet: Buffer, label: string, code?: number) {
  const { replies } = await rawExchange(port, packet)
  t.equal(replies.length, 1, `${label}: exactly one reply`)
  t.equal(opcodeOf(replies[0]), 5, `${label}: the reply is an ERROR`)
  if (code !== undefined) t.equal(errorCodeOf(replies[0]), code, `${label}: error code ${code}`)
  t.notOk(
    replies.some((r) => opcodeOf(r) === 3),
    `${label}: no DATA sent`,
  )
}

t.test('traversal through real clients is refused and nothing leaks', async (t) => {
  for (const name of ['../outside/secret', '../../../../etc/passwd', 'pxelinux.cfg/../../outside/secret', 'link-out', 'dir-out/secret']) {
    const viaCurl = out('curl')
    const c = await curlGet(port, name, viaCurl)
    t.not(c.code, 0, `curl ${name} fails`)
    t.notOk(leaked(viaCurl), `curl ${name} leaks nothing`)
    const viaAtftp = out('atftp')
    const a = await atftpGet(port, name, viaAtftp, ['tsize'])
    t.not(a.code, 0, `atftp ${name} fails`)
    t.notOk(leaked(viaAtftp), `atftp ${name} leaks nothing`)
  }
})

t.test('traversal, absolute, encoded, NUL and backslash names get an ERROR and no DATA', async (t) => {
  await refusedRaw(t, rrq('../outside/secret'), 'dot-dot', 2)
  await refusedRaw(t, rrq('..'), 'bare dot-dot', 2)
  await refusedRaw(t, rrq('//etc/passwd'), 'absolute after one slash is stripped', 2)
  await refusedRaw(t, rrq('..\\outside\\secret'), 'backslashes', 2)
  await refusedRaw(t, rrq('link-out'), 'symlink out of the root', 2)
  await refusedRaw(t, rrq('dir-out/secret'), 'symlinked directory out of the root', 2)
  // Encoded forms are names, not paths: no file is called that, so "not found".
  await refusedRaw(t, rrq('..%2foutside%2fsecret'), 'percent-encoded traversal', 1)
  await refusedRaw(t, rrq('%2e%2e/outside/secret'), 'percent-encoded dots', 1)
  // A NUL ends the name: the rest becomes the mode, which is not a mode.
  await refusedRaw(t, Buffer.concat([Buffer.from([0, 1]), Buffer.from('s511\0/../../outside/secret\0octet\0')]), 'NUL inside the name', 4)
  await refusedRaw(t, Buffer.concat([Buffer.from([0, 1]), Buffer.from('..\u00c0\u00af..\0octet\0', 'latin1')]), 'overlong UTF-8 slash', 4)
  await refusedRaw(t, rrq('pxelinux.cfg'), 'a directory', 1)
  const warned = logs.records().filter((r) => r.msg === 'tftp request refused' && r.level === 40)
  t.ok(
    warned.some((r) => (r.request as { file: string }).file === '../outside/secret' && r.reason === 'traversal'),
    'attacks are logged as warnings with the name under request',
  )
})

t.test('write requests are refused and nothing is written', async (t) => {
  const local = path.join(tree.base, 'upload')
  writeFileSync(local, 'overwrite attempt')
  const before = readdirSync(tree.root).sort()
  const c = await curlPut(port, local, 'uploaded-by-curl')
  t.not(c.code, 0, 'curl upload fails')
  const a = await atftpPut(port, local, 's512')
  t.not(a.code, 0, 'atftp upload fails')
  await refusedRaw(t, Buffer.concat([Buffer.from([0, 2]), Buffer.from('new-file\0octet\0')]), 'WRQ', 2)
  t.same(readdirSync(tree.root).sort(), before, 'no file created')
  t.equal(sha256File(path.join(tree.root, 's512')), tree.sha.s512, 'existing file untouched')
})

t.test('a virtual-file provider that throws, hangs or returns garbage yields an ERROR; the service keeps serving', async (t) => {
  for (const name of ['throws', 'throws-sync', 'hangs', 'garbage']) {
    const { replies } = await rawExchange(port, rrq(name), 600)
    t.equal(opcodeOf(replies[0]), 5, `${name}: ERROR packet`)
    t.notOk(
      replies.some((r) => opcodeOf(r) === 3),
      `${name}: no DATA`,
    )
    const file = out('after')
    t.equal((await curlGet(port, 's512', file)).code, 0, `download after ${name} works`)
    t.equal(sha256File(file), tree.sha.s512)
  }
  const failures = logs.records().filter((r) => r.msg === 'tftp virtual file provider failed')
  t.same(
    failures.map((r) => (r.err as { code: string }).code),
    ['BP_ERR_TFTP_VIRTUAL_FILE', 'BP_ERR_TFTP_VIRTUAL_FILE', 'BP_ERR_TFTP_VIRTUAL_FILE', 'BP_ERR_TFTP_VIRTUAL_FILE'],
  )
})

t.test('beyond maxConnections clients are told the server is busy', async (t) => {
  const small = await startTftp(tree.root, { maxConnections: 2, virtualFileTimeoutMs: 2000 }, () => new Promise(() => undefined))
  t.teardown(() => small.service.close())
  // Two requests park in the hanging provider; the third is over the limit.
  const first = rawExchange(small.port, rrq('a'), 500)
  const second = rawExchange(small.port, rrq('b'), 500)
  await new Promise((resolve) => setTimeout(resolve, 100))
  const { replies } = await rawExchange(small.port, rrq('c'), 200)
  t.equal(errorCodeOf(replies[0]), 0)
  t.match(replies[0]?.subarray(4).toString('latin1'), /busy/)
  await Promise.all([first, second])
  t.equal(small.service.stats().active, 2)
})

t.test('a retransmitted RRQ from the same client port does not start a second transfer', async (t) => {
  const socket = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  t.teardown(() => socket.close())
  const started = service.stats().started
  socket.send(rrq('hangs'), port, '127.0.0.1')
  await new Promise((resolve) => setTimeout(resolve, 50))
  socket.send(rrq('hangs'), port, '127.0.0.1')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(service.stats().started, started + 1, 'one transfer for two identical requests')
  await new Promise((resolve) => setTimeout(resolve, 400))
  t.equal(service.stats().active, 0, 'the hanging provider timed out and the transfer ended')
})
