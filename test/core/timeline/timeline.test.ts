/**
 * The timeline recorder on its own, with the real files state store: rings and the machine count
 * stay bounded under floods of invented MACs and addresses, secrets never reach an event (memory
 * or disk), hostile strings are cut and cleaned, the timeline survives a restart, and an installer
 * boot with no callback is flagged stuck once.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { EndedIntent, IntentRecord } from '../../../core/lifecycle/intent-types.js'
import { JsonFileStateStore } from '../../../core/state/state-store.js'
import { normalMac } from '../../../core/timeline/event-fields.js'
import { recordDhcp } from '../../../core/timeline/record-dhcp.js'
import { recordLifecycle } from '../../../core/timeline/record-lifecycle.js'
import { Timeline, type TimelineOptions } from '../../../core/timeline/timeline.js'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'bp-timeline-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function timeline(t: Test, extra: Partial<TimelineOptions> = {}): Timeline {
  const tl = new Timeline({ maxMachines: 100, eventsPerMachine: 16, flushMs: 0, stuckAfterMs: 60_000, ...extra })
  t.teardown(() => tl.close())
  return tl
}

const randomMac = (): string =>
  Array.from({ length: 6 }, () =>
    Math.floor(Math.random() * 256)
      .toString(16)
      .padStart(2, '0'),
  ).join(':')

t.test('one machine keeps only its newest eventsPerMachine events, oldest first', async (t) => {
  const tl = timeline(t)
  for (let i = 0; i < 1000; i++) tl.record({ mac: '52:54:00:00:00:01' }, 'http', 'decision', { i })
  const page = tl.events('52:54:00:00:00:01', { limit: 1000 })!
  t.equal(page.events.length, 16)
  t.same(
    page.events.map((e) => e.fields.i),
    Array.from({ length: 16 }, (_, k) => 984 + k),
  )
  t.ok(
    page.events.every((e, k) => k === 0 || e.seq > page.events[k - 1]!.seq),
    'seq increases',
  )
  const first = tl.events('52:54:00:00:00:01', { limit: 5 })!
  t.equal(first.events.length, 5)
  t.equal(first.next, first.events[4]!.seq)
  const second = tl.events('52:54:00:00:00:01', { limit: 5, after: first.next! })!
  t.equal(second.events[0]!.fields.i, 989, 'the next page starts after the cursor')
})

t.test('a flood of invented MACs and addresses stays bounded, in memory and on disk', async (t) => {
  const dir = tempDir(t)
  const store = new JsonFileStateStore(dir)
  const tl = timeline(t, { maxMachines: 200, eventsPerMachine: 8, flushMs: 60_000, store })
  // What stays reachable, not garbage not yet collected: tap runs without --expose-gc, so the
  // collector is exposed here (without it the figure swung from under 64 MB to 82 MB between runs).
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  gc()
  const heap0 = process.memoryUsage().heapUsed
  for (let i = 0; i < 100_000; i++) {
    const mac = randomMac()
    tl.learnIp(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, mac)
    tl.record({ mac }, 'dhcp', 'DISCOVER', { userClass: 'x'.repeat(300) })
    tl.record({ ip: `172.16.${(i >> 8) & 255}.${i & 255}` }, 'files', 'download', { file: 'vmlinuz' })
  }
  t.equal(tl.size, 200, 'machines are capped at maxMachines')
  t.ok(tl.evicted > 199_000, 'the least recently seen were forgotten')
  const list = tl.machines()
  t.equal(list.length, 200)
  t.ok(list.every((m) => tl.events(m.id, { limit: 100 })!.events.length <= 8))
  // The IP→MAC index is bounded too: the first addresses learned are forgotten.
  t.match(tl.idOf({ ip: '10.0.0.1' }), /^ip:/)
  await tl.flush()
  const bytes = statSync(join(dir, 'timeline.json')).size
  // 200 machines × 8 events × (≤ 24 fields of ≤ 256 characters) is the worst case; these are far below it.
  t.ok(bytes < 200 * 8 * 700, `disk bounded (${bytes} bytes)`)
  gc()
  const grown = process.memoryUsage().heapUsed - heap0
  // Retained, the events kept (200 × 8) are well under 1 MB; keeping all 200,000 would be > 30 MB.
  t.ok(grown < 16 * 1024 * 1024, `heap grew ${Math.round(grown / 1024)} KiB for 200,000 events`)
})

t.test('secret-named fields are dropped; hostile strings are cut and cleaned; a bad MAC is no MAC', async (t) => {
  const tl = timeline(t)
  tl.record({ mac: '52-54-00-AB-CD-EF' }, 'login', 'login', {
    user: 'alice\u001b[31m',
    outcome: 'failed',
    password: 'hunter2-secret',
    chapSecret: 'chap-secret-1',
    token: 'tok-secret-2',
    Authorization: 'Bearer secret-3',
    apiKey: 'secret-4',
    long: 'y'.repeat(5000),
    nested: { password: 'secret-5' },
    nan: Number.NaN,
  })
  const id = normalMac('52-54-00-AB-CD-EF')!
  t.equal(id, '52:54:00:ab:cd:ef')
  const text = JSON.stringify({ m: tl.machines(), e: tl.events(id, { limit: 10 }) })
  for (const secret of ['hunter2', 'chap-secret', 'tok-secret', 'secret-3', 'secret-4', 'secret-5']) t.notOk(text.includes(secret), `${secret} not recorded`)
  const e = tl.events(id, { limit: 10 })!.events[0]!
  t.equal(e.fields.user, 'alice?[31m', 'control characters replaced')
  t.equal((e.fields.long as string).length, 257, 'long strings cut')
  t.equal(e.fields.nan, 0)
  for (const bad of ['52:54:00:ab:cd', '52:54:00:ab:cd:ef:01', 'zz:54:00:ab:cd:ef', '52:54-00:ab:cd:ef', `${'a'.repeat(20)}`]) {
    t.equal(normalMac(bad), undefined, bad)
    t.match(tl.idOf({ mac: bad, ip: '192.0.2.9' }), 'ip:192.0.2.9')
  }
  t.equal(tl.idOf({}), undefined)
  const many: Record<string, unknown> = {}
  for (let i = 0; i < 100; i++) many[`f${i}`] = i
  tl.record({ mac: id }, 'http', 'x'.repeat(100), many)
  const last = tl.events(id, { limit: 10 })!.events[1]!
  t.equal(Object.keys(last.fields).length, 24, 'at most 24 fields')
  t.equal(last.type.length, 33)
})

t.test('the timeline is written through the state store and read back; a damaged file starts empty', async (t) => {
  const dir = tempDir(t)
  const store = new JsonFileStateStore(dir)
  const a = new Timeline({ maxMachines: 10, eventsPerMachine: 4, flushMs: 60_000, stuckAfterMs: 60_000, store })
  a.learnIp('10.0.0.7', '52:54:00:00:00:07')
  a.record({ mac: '52:54:00:00:00:07' }, 'dhcp', 'ACK', { yiaddr: '10.0.0.7' })
  a.record({ ip: '10.0.0.7' }, 'http', 'bootstrap')
  await a.close()
  const b = new Timeline({ maxMachines: 10, eventsPerMachine: 4, flushMs: 60_000, stuckAfterMs: 60_000, store })
  t.teardown(() => b.close())
  await b.load()
  t.same(
    b.events('52:54:00:00:00:07', { limit: 10 })!.events.map((e) => e.type),
    ['ACK', 'bootstrap'],
    'the IP-only bootstrap was filed under the MAC DHCP tied to it',
  )
  b.record({ mac: '52:54:00:00:00:07' }, 'http', 'decision')
  const seqs = b.events('52:54:00:00:00:07', { limit: 10 })!.events.map((e) => e.seq)
  t.ok(seqs[2]! > seqs[1]!, 'sequence numbers continue after a restart')
  t.equal(b.idOf({ ip: '10.0.0.7' }), '52:54:00:00:00:07', 'the IP index is rebuilt')

  writeFileSync(join(dir, 'timeline.json'), '{"v":1,"machines":[{"summary":null},{"summary":{"id":"x"},"events":[null,{"seq":"1"}]}]')
  const c = new Timeline({ maxMachines: 10, eventsPerMachine: 4, flushMs: 60_000, stuckAfterMs: 60_000, store })
  t.teardown(() => c.close())
  await c.load()
  t.equal(c.size, 0, 'unparsable JSON: an empty timeline')
  writeFileSync(join(dir, 'timeline.json'), '{"v":1,"machines":[{"summary":null},{"summary":{"id":"x"},"events":[null,{"seq":"1"}]}]}')
  await c.load()
  t.equal(c.size, 1)
  t.same(c.events('x', { limit: 10 })!.events, [], 'malformed entries skipped')
  t.ok(readFileSync(join(dir, 'timeline.json'), 'utf8').length > 0)
})

t.test('an installer boot with no callback is stuck once; a callback or the end clears it', async (t) => {
  let now = 1_000_000
  const stuck: string[] = []
  const tl = timeline(t, { now: () => now, stuckAfterMs: 60_000, onStuck: (id) => stuck.push(id) })
  const mac = '52:54:00:00:00:42'
  const intent: IntentRecord = {
    id: 'i-1',
    machine: { by: 'mac', value: mac },
    target: { profile: 'reinstall' },
    note: '',
    expiresAt: now + 3_600_000,
    setBy: 'admin token',
    setAt: now,
    state: 'armed',
    tokensIssued: 1,
    token: { hash: 'h'.repeat(64), mac, issuedAt: now },
  }
  recordLifecycle(tl, { type: 'armed', intent })
  recordLifecycle(tl, { type: 'token-issued', intent })
  t.equal(tl.summary(mac)!.state, 'installing')
  now += 59_000
  t.same(tl.checkStuck(), [])
  now += 2_000
  t.same(tl.checkStuck(), [mac])
  t.same(tl.checkStuck(), [], 'flagged once')
  t.same(stuck, [mac])
  t.equal(tl.summary(mac)!.state, 'stuck')
  t.notOk(JSON.stringify(tl.events(mac, { limit: 50 })).includes('hhhh'), 'no token hash in events')
  const ended: EndedIntent = { ...intent, outcome: 'built', reason: 'ok', endedAt: now, endedBy: 'installer' }
  recordLifecycle(tl, { type: 'ended', intent: ended })
  t.equal(tl.summary(mac)!.state, 'installed')
  t.same(
    tl.events(mac, { limit: 50 })!.events.map((e) => `${e.source}:${e.type}`),
    ['intent:armed', 'intent:installer-boot', 'intent:stuck', 'callback:built'],
  )
  recordLifecycle(tl, { type: 'token-issued', intent })
  recordLifecycle(tl, { type: 'failed', intent: { ...intent, state: 'failed', failure: { reason: 'disk', at: now } } })
  t.equal(tl.summary(mac)!.state, 'failed')
  recordLifecycle(tl, { type: 'callback-refused', outcome: 'built', mac })
  t.equal(tl.events(mac, { limit: 50 })!.events.at(-1)!.type, 'refused')
})

t.test('enabled: false records nothing', async (t) => {
  const tl = timeline(t, { enabled: false })
  tl.record({ mac: '52:54:00:00:00:01' }, 'http', 'decision')
  tl.learnIp('10.0.0.1', '52:54:00:00:00:01')
  t.equal(tl.size, 0)
  t.equal(tl.idOf({ ip: '10.0.0.1' }), 'ip:10.0.0.1')
})

t.test('DHCP: messages with the options that matter, and an ACK ties the address to the MAC', async (t) => {
  const tl = timeline(t)
  const facts = {
    mac: '52:54:00:00:00:aa',
    messageType: 'DISCOVER',
    arch: 'x86_64-efi',
    clientArchCode: 7,
    userClass: 'iPXE',
    isIpxe: true,
    isPxe: true,
    isHttpBoot: false,
    relayed: false,
    uuid: '11111111-2222-3333-4444-555555555555',
  } as unknown as Parameters<typeof recordDhcp>[1]['facts']
  recordDhcp(tl, { facts, direction: 'in', type: 'DISCOVER' })
  recordDhcp(tl, { facts, direction: 'out', type: 'OFFER', yiaddr: '10.9.0.20', file: 'ipxe.efi' })
  t.equal(tl.idOf({ ip: '10.9.0.20' }), 'ip:10.9.0.20', 'an OFFER ties nothing')
  recordDhcp(tl, { facts, direction: 'out', type: 'ACK', yiaddr: '10.9.0.20' })
  tl.record({ ip: '10.9.0.20' }, 'tftp', 'transfer', { file: 'ipxe.efi', outcome: 'complete' })
  const events = tl.events(facts.mac, { limit: 10 })!.events
  t.same(
    events.map((e) => `${e.source}:${e.type}`),
    ['dhcp:DISCOVER', 'dhcp:OFFER', 'dhcp:ACK', 'tftp:transfer'],
  )
  t.match(events[0]!.fields, { arch: 'x86_64-efi', archCode: 7, userClass: 'iPXE', ipxe: true })
  t.equal(events[1]!.fields.bootfile, 'ipxe.efi')
  t.equal(tl.summary(facts.mac)!.uuid, facts.uuid)
})
