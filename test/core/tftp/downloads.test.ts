import t from 'tap'
import path from 'node:path'
import { existsSync, readFileSync } from 'node:fs'
import { SIZES, atftpGet, curlGet, makeTftpTree, sha256, sha256File, startTftp } from '../../helpers/tftp.js'

const tree = makeTftpTree()
t.teardown(() => tree.cleanup())
const generated = Buffer.from('DEFAULT local\nLABEL local\n  LOCALBOOT 0\n')
const seen: { path: string; client: { address: string; port: number } }[] = []
const { service, port, logs } = await startTftp(tree.root, {}, async (file, client) => {
  seen.push({ path: file, client })
  if (file === 'pxelinux.cfg/01-52-54-00-c0-ff-ee') return generated
  if (file === 'pxelinux.cfg/empty') return Buffer.alloc(0)
  return undefined
})
t.teardown(() => service.close())
const out = (name: string) => path.join(tree.base, `out-${name}-${Math.random().toString(36).slice(2)}`)
const names = Object.keys(SIZES) as (keyof typeof SIZES)[]

t.test('curl downloads every size byte-identical (default and 1428-byte blocks)', async (t) => {
  for (const name of names) {
    for (const extra of [[], ['--tftp-blksize', '1428']]) {
      const file = out(name)
      const r = await curlGet(port, name, file, extra)
      t.equal(r.code, 0, `curl ${name} ${extra.join(' ')} exit code (${r.stderr.trim()})`)
      t.equal(sha256File(file), tree.sha[name], `curl ${name} ${extra.join(' ')} sha256`)
    }
  }
})

t.test('atftp downloads every size byte-identical with blksize 1428 and tsize, lock-step and windowed', async (t) => {
  for (const name of names) {
    for (const options of [['blksize 1428', 'tsize'], ['blksize 1428', 'tsize', 'windowsize 4'], []]) {
      const file = out(name)
      const r = await atftpGet(port, name, file, options)
      t.equal(r.code, 0, `atftp ${name} [${options.join(', ')}] exit code (${r.stderr.trim()})`)
      t.equal(sha256File(file), tree.sha[name], `atftp ${name} [${options.join(', ')}] sha256`)
    }
  }
})

t.test('a symlink that stays inside the root is served', async (t) => {
  const file = out('link-in')
  t.equal((await curlGet(port, 'link-in', file)).code, 0)
  t.equal(sha256File(file), tree.sha.s511)
})

t.test('a leading slash is stripped, as tftpd-hpa does', async (t) => {
  const file = out('slash')
  // curl sends the URL path after the host's slash: tftp://h//s512 requests "/s512".
  t.equal((await curlGet(port, '/s512', file)).code, 0)
  t.equal(sha256File(file), tree.sha.s512)
})

t.test('50 concurrent downloads are all byte-identical', async (t) => {
  const files = Array.from({ length: 50 }, (_, i) => out(`concurrent-${i}`))
  const results = await Promise.all(files.map((f, i) => (i % 2 === 0 ? curlGet(port, 'big', f, ['--tftp-blksize', '1428']) : atftpGet(port, 'big', f, ['blksize 1428', 'tsize', 'windowsize 4']))))
  t.same(
    results.map((r) => r.code),
    files.map(() => 0),
    'every client exits 0',
  )
  t.same(
    files.map((f) => (existsSync(f) ? sha256File(f) : 'missing')),
    files.map(() => tree.sha.big),
    'every copy is identical',
  )
  t.equal(service.stats().active, 0, 'no transfer left behind')
})

t.test('virtual files are served before the disk, with the client address', async (t) => {
  const file = out('virtual')
  const r = await curlGet(port, 'pxelinux.cfg/01-52-54-00-c0-ff-ee', file)
  t.equal(r.code, 0, r.stderr)
  t.equal(sha256(readFileSync(file)), sha256(generated))
  const call = seen.find((s) => s.path === 'pxelinux.cfg/01-52-54-00-c0-ff-ee')
  t.equal(call?.client.address, '127.0.0.1')
  t.type(call?.client.port, 'number')

  const empty = out('virtual-empty')
  t.equal((await curlGet(port, 'pxelinux.cfg/empty', empty)).code, 0)
  t.equal(readFileSync(empty).length, 0)

  // Undefined from the provider falls through to the disk.
  const disk = out('fallthrough')
  t.equal((await atftpGet(port, 's512', disk, ['tsize'])).code, 0)
  t.equal(sha256File(disk), tree.sha.s512)
  t.ok(
    seen.some((s) => s.path === 's512'),
    'the provider was asked first',
  )
})

t.test('completed transfers are logged with constant messages and the file under request', async (t) => {
  const done = logs.records().filter((r) => r.msg === 'tftp transfer complete')
  t.ok(done.length >= 50)
  const big = done.find((r) => (r.request as { file?: string } | undefined)?.file === 'big' && r.blksize === 1428)
  t.equal(big?.bytes, SIZES.big)
  t.equal(big?.service, 'tftp')
})
