/**
 * The embedded lease backend: the journal on a real file. Records survive a reload, a torn last
 * line (a crash mid-append) is skipped, damage anywhere else refuses the load, the version-1
 * snapshot of earlier releases still loads, and a failed write rejects with BP_ERR_DHCP_STATE and
 * is followed by a compaction (never an append after a partial line).
 */
import t from 'tap'
import { appendFile, mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { FileLeaseBackend, type FileLeaseBackendOptions } from '../../../core/dhcp/file-lease-backend.js'
import { createGroupCommit } from '../../../core/dhcp/group-commit.js'
import type { LeaseChange } from '../../../core/dhcp/lease-backend.js'
import { batchText, LeaseJournal } from '../../../core/dhcp/lease-journal.js'
import { sameSubnet } from '../../../core/dhcp/ipv4.js'

function backend(dir: string, extra: Partial<FileLeaseBackendOptions> = {}): FileLeaseBackend {
  return new FileLeaseBackend({
    file: join(dir, 'leases.json'),
    poolStart: '10.0.0.10',
    poolEnd: '10.0.0.200',
    reserved: new Map([[(10 << 24) + 12, 'aa:aa:aa:aa:aa:aa']]),
    excluded: new Set([(10 << 24) + 11]),
    inSubnet: (ip) => sameSubnet(ip, '10.0.0.0', '255.255.255.0'),
    maxOffers: 64,
    ...extra,
  })
}
const mac = (i: number): string => `02:00:00:00:00:${i.toString(16).padStart(2, '0')}`
const bind = (b: FileLeaseBackend, i: number, ip: string) => b.bind({ key: `mac:${i}`, mac: mac(i), ip, leaseMs: 3_600_000, renewal: false })

t.test('state is journaled and restored; offers are not stored', async (t) => {
  const dir = t.testdir()
  const a = backend(dir)
  await a.load()
  const changes = [await bind(a, 1, '10.0.0.10'), await bind(a, 9, '10.0.0.13')]
  await a.reserve({ key: 'mac:2', mac: mac(2), holdMs: 30_000 })
  changes.push(await a.decline('mac:9', '10.0.0.13', 60_000, 30_000))
  await a.commit(changes.map((c) => c!))
  await a.close()
  t.same(await readdir(dir), ['leases.json'], 'no temp file left behind')
  const lines = (await readFile(join(dir, 'leases.json'), 'utf8')).trimEnd().split('\n')
  t.equal(lines[0], '{"version":3}')
  t.equal(lines.length, 6, 'header, the compacted (empty) batch, three appended records and their commit line')
  t.match(lines[5], /^\{"commit":3,"crc32":\d+\}$/)

  const b = backend(dir)
  await b.load()
  t.same(
    (await b.list()).map((l) => [l.ip, l.state]),
    [
      ['10.0.0.10', 'bound'],
      ['10.0.0.13', 'declined'],
    ],
  )
  await b.close()
})

t.test('hazard: a torn last line (crash mid-append) is skipped, damage elsewhere refuses the load', async (t) => {
  const dir = t.testdir()
  const a = backend(dir)
  await a.load()
  await a.commit([(await bind(a, 1, '10.0.0.10'))!])
  await a.close()
  await appendFile(join(dir, 'leases.json'), '{"ip":"10.0.0.20","mac":"02:00:00:')
  const b = backend(dir)
  await b.load()
  t.same(
    (await b.list()).map((l) => l.ip),
    ['10.0.0.10'],
    'the complete record loads, the torn one is skipped',
  )
  await b.close()
  const text = await readFile(join(dir, 'leases.json'), 'utf8')
  t.notMatch(text, /10\.0\.0\.20/, 'and the load compacted the torn tail away')

  const bad = t.testdir({ 'leases.json': `{"version":3}\n${batchText([{ ip: '10.0.0.9' }]).replace('10.0.0.9', '10.0\0\0\0\0')}${batchText([{ ip: '10.0.0.10' }])}` })
  await t.rejects(backend(bad).load(), { code: 'BP_ERR_DHCP_STATE', message: /cannot be read.*line 2 is damaged/ }, 'damage before a committed batch')
  const badTwo = t.testdir({ 'leases.json': '{"version":2}\n{"ip":\n{"ip":"10.0.0.10"}\n' })
  await t.rejects(backend(badTwo).load(), { code: 'BP_ERR_DHCP_STATE', message: /cannot be read.*line 2/ }, 'version 2: damage before the last line')
  const wrong = t.testdir({ 'leases.json': '{"version":7}\n' })
  await t.rejects(backend(wrong).load(), { code: 'BP_ERR_DHCP_STATE' })
  const notJson = t.testdir({ 'leases.json': '{"version":1,"leases":[' })
  await t.rejects(backend(notJson).load(), { code: 'BP_ERR_DHCP_STATE', message: /cannot be read/ })
  await t.resolves(backend(t.testdir()).load(), 'a missing file is an empty state')
})

t.test('hazard: a power loss mid-batch (garbage, then complete-looking lines) is cut, not refused', async (t) => {
  const dir = t.testdir()
  const a = backend(dir)
  await a.load()
  await a.commit([(await bind(a, 1, '10.0.0.10'))!])
  await a.close()
  const file = join(dir, 'leases.json')
  const rec = (ip: string) => JSON.stringify({ ip, mac: mac(3), key: 'mac:3', state: 'bound', expiresAt: 5e12 })
  // The unflushed tail of a batch: zeros where a block never reached the disk, then whole lines.
  await appendFile(file, `${'\0'.repeat(40)}:"02:00:00:00:00:02"}\n${rec('10.0.0.30')}\n`)
  const b = backend(dir)
  await b.load()
  t.same(
    (await b.list()).map((l) => l.ip),
    ['10.0.0.10'],
    'the committed batch loads, the uncommitted lines are cut',
  )
  await b.close()
  t.notMatch(await readFile(file, 'utf8'), /10\.0\.0\.30|\0/, 'and the load compacted them away')

  // A commit line whose checksum does not match its batch (a block of zeros inside it) is cut too.
  const good = batchText([JSON.parse(rec('10.0.0.40'))])
  const torn = good.replace('"ip":"10.0.0.40"', '\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0')
  await appendFile(file, torn)
  const c = backend(dir)
  await c.load()
  t.same(
    (await c.list()).map((l) => l.ip),
    ['10.0.0.10'],
    'a batch whose crc32 does not match is not committed',
  )
  await c.close()
  await appendFile(file, good)
  const d = backend(dir)
  await d.load()
  t.same(
    (await d.list()).map((l) => l.ip),
    ['10.0.0.10', '10.0.0.40'],
    'a whole batch with its commit line loads',
  )
  await d.close()
})

t.test('a version-2 journal (no commit lines) still loads', async (t) => {
  const dir = t.testdir({ 'leases.json': `{"version":2}\n${JSON.stringify({ ip: '10.0.0.10', mac: mac(1), key: 'mac:1', state: 'bound', expiresAt: 5e12 })}\n{"ip":` })
  const s = backend(dir)
  await s.load()
  t.same(
    (await s.list()).map((l) => l.ip),
    ['10.0.0.10'],
  )
  await s.close()
  t.match(await readFile(join(dir, 'leases.json'), 'utf8'), /^\{"version":3\}\n/, 'rewritten as a version-3 journal at start')
})

t.test('an append under the compaction threshold does not copy the live leases', async (t) => {
  const journal = new LeaseJournal(join(t.testdir(), 'leases.json'))
  await journal.compact([])
  let copies = 0
  const live = () => {
    copies++
    return []
  }
  const lease = { ip: '10.0.0.10', mac: mac(1), key: 'mac:1', state: 'bound', expiresAt: 5e12 } as const
  for (let i = 0; i < 20; i++) await journal.append([lease], live)
  t.equal(copies, 0, 'live() is called only when a compaction is due')
  await journal.close()
})

t.test('a version-1 snapshot still loads; entries that do not fit the config are dropped', async (t) => {
  const dir = t.testdir({
    'leases.json': JSON.stringify({
      version: 1,
      leases: [
        { ip: '10.0.0.10', mac: '01:02:03:04:05:06', key: 'mac:x', state: 'bound', expiresAt: 5e12 },
        { ip: '192.168.1.5', mac: '01:02:03:04:05:06', key: 'mac:y', state: 'bound', expiresAt: 5e12 },
        { ip: '10.0.0.13', mac: 'nope', key: 'mac:z', state: 'bound', expiresAt: 5e12 },
        { ip: '10.0.0.13', mac: '01:02:03:04:05:07', key: 'mac:w', state: 'offered', expiresAt: 5e12 },
      ],
    }),
  })
  const s = backend(dir)
  await s.load()
  t.same(
    (await s.list()).map((l) => l.ip),
    ['10.0.0.10'],
  )
  await s.close()
  t.match(await readFile(join(dir, 'leases.json'), 'utf8'), /^\{"version":3\}\n/, 'rewritten as a journal at start')
})

t.test('a store that cannot be written fails at load, a failing write rejects with BP_ERR_DHCP_STATE', async (t) => {
  await t.rejects(backend(t.testdir(), { file: '/proc/does-not-exist/leases.json' }).load(), { code: 'BP_ERR_DHCP_STATE', message: /cannot be written/ })
  const root = t.testdir()
  const dir = join(root, 'state')
  await mkdir(dir)
  const s = backend(dir)
  await s.load()
  await s.close() // no open journal: the next commit compacts into the directory
  await rm(dir, { recursive: true })
  const lost = (await bind(s, 1, '10.0.0.10'))!
  await t.rejects(s.commit([lost]), { code: 'BP_ERR_DHCP_STATE', message: /cannot be written/ })
  await mkdir(dir)
  await s.commit([(await bind(s, 2, '10.0.0.20'))!])
  await s.close()
  const again = backend(dir)
  await again.load()
  t.same(
    (await again.list()).map((l) => l.ip),
    ['10.0.0.10', '10.0.0.20'],
    'the next write after a failure stores the whole state, the failed change included',
  )
  await again.close()
})

t.test('many changes journaled through group commit reload exactly; compaction keeps the file small', async (t) => {
  const dir = t.testdir()
  const a = backend(dir)
  await a.load()
  const commits = createGroupCommit<LeaseChange>((batch) => a.commit(batch))
  // 5,000 bindings cycle over 150 addresses: more appended lines than the compaction threshold.
  for (let round = 0; round < 50; round++) {
    const submits: Promise<void>[] = []
    for (let i = 0; i < 100; i++) {
      const n = (round * 100 + i) % 150
      const c = await a.bind({ key: `mac:${n}`, mac: mac(n), ip: `10.0.0.${50 + n}`, leaseMs: 3_600_000 + round, renewal: true })
      if (c) submits.push(commits.submit(c))
    }
    await Promise.all(submits)
  }
  t.ok(commits.stats.commits < 5000, `grouped: ${commits.stats.commits} writes for ${commits.stats.committed} changes`)
  const before = await a.list()
  await a.close()
  const lines = (await readFile(join(dir, 'leases.json'), 'utf8')).trimEnd().split('\n').length
  t.ok(lines < 4096 + 200, `compacted (${lines} lines for 5,000 changes)`)
  const b = backend(dir)
  await b.load()
  t.same(await b.list(), before, 'reload gives the same leases')
  await b.close()
})
