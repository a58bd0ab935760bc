/**
 * Events keyed only by the client's IP address (/boot.ipxe, /files, TFTP) on the MAC that holds the
 * address: a DHCP lease for its lease time, a claim (/boot with mac=, a proxyDHCP request from its
 * ciaddr) for CLAIM_MS, with the recent `ip:` events of a claimed address merged in seq order.
 * Hostile and racing cases: a claim against another MAC's live lease, a spoofed ciaddr, an address
 * reused by another MAC, claims that alternate, a merge that would overflow the ring.
 */
import t, { type Test } from 'tap'
import { recordDhcp } from '../../../core/timeline/record-dhcp.js'
import { CLAIM_MS } from '../../../core/timeline/ip-bindings.js'
import { MERGE_WINDOW_MS, Timeline, type TimelineOptions } from '../../../core/timeline/timeline.js'

const A = '52:54:00:00:0a:01'
const B = '52:54:00:00:0b:02'
const IP = '10.9.0.30'

function clocked(t: Test, extra: Partial<TimelineOptions> = {}): { tl: Timeline; tick: (ms: number) => void } {
  let now = 5_000_000
  const tl = new Timeline({ maxMachines: 100, eventsPerMachine: 16, flushMs: 0, stuckAfterMs: 60_000, now: () => now, ...extra })
  t.teardown(() => tl.close())
  return { tl, tick: (ms) => (now += ms) }
}

const kinds = (tl: Timeline, id: string): string[] => (tl.events(id, { limit: 100 })?.events ?? []).map((e) => `${e.source}:${e.type}`)

const facts = (mac: string, extra: Record<string, unknown> = {}) =>
  ({ mac, messageType: 'REQUEST', arch: 'x86_64-efi', isIpxe: true, isPxe: true, isHttpBoot: false, relayed: false, ...extra }) as unknown as Parameters<typeof recordDhcp>[1]['facts']

t.test('a /boot claim merges the bootstrap that came just before it, in seq order', async (t) => {
  const { tl, tick } = clocked(t)
  tl.record({ mac: A }, 'dhcp', 'DISCOVER')
  tl.record({ ip: IP }, 'http', 'bootstrap')
  tick(1000)
  tl.record({ ip: IP }, 'files', 'download', { file: 'x' })
  tick(1000)
  tl.learnIp(IP, A)
  tl.record({ mac: A, ip: IP }, 'http', 'decision')
  t.same(kinds(tl, A), ['dhcp:DISCOVER', 'http:bootstrap', 'files:download', 'http:decision'])
  t.equal(tl.events(`ip:${IP}`, { limit: 10 }), undefined, 'the ip: entry is gone')
  t.equal(tl.summary(A)!.ip, IP)
  const seqs = tl.events(A, { limit: 100 })!.events.map((e) => e.seq)
  t.same(
    seqs,
    [...seqs].sort((x, y) => x - y),
    'seq order',
  )
})

t.test('ip: events older than the merge window stay (a previous holder of the address)', async (t) => {
  const { tl, tick } = clocked(t)
  tl.record({ ip: IP }, 'tftp', 'transfer', { file: 'old' })
  tick(MERGE_WINDOW_MS + 1)
  tl.record({ ip: IP }, 'http', 'bootstrap')
  tl.learnIp(IP, A)
  t.same(kinds(tl, A), ['http:bootstrap'])
  t.same(kinds(tl, `ip:${IP}`), ['tftp:transfer'])
})

t.test('a lease files later events under its MAC until it ends; then they go back to ip:', async (t) => {
  const { tl, tick } = clocked(t)
  tl.record({ ip: IP }, 'http', 'bootstrap', { before: true })
  recordDhcp(tl, { facts: facts(A), direction: 'out', type: 'ACK', yiaddr: IP, leaseSeconds: 120, from: '0.0.0.0' })
  t.same(kinds(tl, A), ['dhcp:ACK'], 'a lease does not take what the address did before it was given')
  tick(119_000)
  tl.record({ ip: IP }, 'files', 'download')
  t.same(kinds(tl, A), ['dhcp:ACK', 'files:download'])
  tick(1000)
  t.equal(tl.idOf({ ip: IP }), `ip:${IP}`, 'at the lease end the address is nobody’s')
})

t.test('an address reused by another MAC maps to the new one; the old MAC keeps its events', async (t) => {
  const { tl, tick } = clocked(t)
  recordDhcp(tl, { facts: facts(A), direction: 'out', type: 'ACK', yiaddr: IP, leaseSeconds: 60, from: '0.0.0.0' })
  tl.record({ ip: IP }, 'files', 'download', { who: 'a' })
  tick(61_000)
  recordDhcp(tl, { facts: facts(B), direction: 'out', type: 'ACK', yiaddr: IP, leaseSeconds: 3600, from: '0.0.0.0' })
  tl.record({ ip: IP }, 'files', 'download', { who: 'b' })
  t.same(kinds(tl, A), ['dhcp:ACK', 'files:download'])
  t.same(kinds(tl, B), ['dhcp:ACK', 'files:download'])
  t.equal(tl.events(B, { limit: 10 })!.events[1]!.fields.who, 'b')
  // A new lease wins even before the old one ended (this server gave the address away).
  recordDhcp(tl, { facts: facts(A), direction: 'out', type: 'ACK', yiaddr: IP, leaseSeconds: 60, from: '0.0.0.0' })
  t.equal(tl.idOf({ ip: IP }), A)
})

t.test('hostile: a /boot claiming another MAC cannot take a live lease’s address', async (t) => {
  const { tl } = clocked(t)
  recordDhcp(tl, { facts: facts(A), direction: 'out', type: 'ACK', yiaddr: IP, leaseSeconds: 3600, from: '0.0.0.0' })
  tl.record({ ip: IP }, 'http', 'bootstrap')
  tl.learnIp(IP, B)
  tl.record({ mac: B, ip: IP }, 'http', 'decision')
  tl.record({ ip: IP }, 'files', 'download')
  t.same(kinds(tl, A), ['dhcp:ACK', 'http:bootstrap', 'files:download'], 'the leased address stays with A')
  t.same(kinds(tl, B), ['http:decision'], 'B’s own /boot is B’s, nothing more')
})

t.test('a claim lasts CLAIM_MS (1 hour) after it was last made; the merge window is 10 minutes', async (t) => {
  t.equal(CLAIM_MS, 3_600_000, 'docs/reference/timeline.md says 1 hour')
  t.equal(MERGE_WINDOW_MS, 600_000, 'docs/reference/timeline.md says 10 minutes')
  const { tl, tick } = clocked(t)
  tl.learnIp(IP, A)
  tick(CLAIM_MS - 1000)
  tl.learnIp(IP, A)
  tick(CLAIM_MS - 1000)
  t.equal(tl.idOf({ ip: IP }), A, 'made again: it lasts from then')
  tick(1000)
  t.equal(tl.idOf({ ip: IP }), `ip:${IP}`, 'ended')
})

t.test('a claim by the lease holder never shortens its lease', async (t) => {
  const { tl, tick } = clocked(t)
  recordDhcp(tl, { facts: facts(A), direction: 'out', type: 'ACK', yiaddr: IP, leaseSeconds: 3 * 3600, from: '0.0.0.0' })
  tl.learnIp(IP, A)
  tick(CLAIM_MS + 60_000)
  t.equal(tl.idOf({ ip: IP }), A, 'still leased after a claim’s lifetime')
  tl.learnIp(IP, B)
  t.equal(tl.idOf({ ip: IP }), A, 'and still a lease: another MAC’s claim is refused')
})

t.test('proxyDHCP: a request sent from its ciaddr claims it; a spoofed ciaddr claims nothing', async (t) => {
  const { tl } = clocked(t)
  tl.record({ ip: IP }, 'http', 'bootstrap')
  recordDhcp(tl, { facts: facts(B, { ciaddr: IP }), direction: 'out', type: 'ACK', yiaddr: '0.0.0.0', from: '10.9.0.99' })
  t.equal(tl.idOf({ ip: IP }), `ip:${IP}`, 'ciaddr differs from the source address: no claim')
  recordDhcp(tl, { facts: facts(A, { ciaddr: IP }), direction: 'out', type: 'ACK', yiaddr: '0.0.0.0', from: IP })
  t.equal(tl.idOf({ ip: IP }), A)
  t.same(kinds(tl, A), ['http:bootstrap', 'dhcp:ACK'], 'the recent bootstrap merged, then the reply')
})

t.test('racing claims: the last claim wins, and every event is on exactly one machine', async (t) => {
  const { tl, tick } = clocked(t)
  for (let i = 0; i < 50; i++) {
    tl.record({ ip: IP }, 'http', 'bootstrap', { i })
    tl.learnIp(IP, i % 2 ? B : A)
    tl.record({ ip: IP }, 'files', 'download', { i })
    tick(10)
  }
  t.equal(tl.idOf({ ip: IP }), B)
  const all = [...(tl.events(A, { limit: 100 })?.events ?? []), ...(tl.events(B, { limit: 100 })?.events ?? [])]
  const seqs = all.map((e) => e.seq)
  t.equal(new Set(seqs).size, seqs.length, 'no event twice')
  t.equal(tl.events(`ip:${IP}`, { limit: 10 }), undefined, 'nothing left on ip:')
})

t.test('a merge keeps the ring bounded: the newest eventsPerMachine survive', async (t) => {
  const { tl } = clocked(t, { eventsPerMachine: 8 })
  for (let i = 0; i < 6; i++) tl.record({ mac: A }, 'dhcp', 'DISCOVER', { i })
  for (let i = 0; i < 6; i++) tl.record({ ip: IP }, 'http', 'bootstrap', { i })
  tl.learnIp(IP, A)
  const events = tl.events(A, { limit: 100 })!.events
  t.equal(events.length, 8)
  t.same(
    events.map((e) => `${e.type}${e.fields.i}`),
    ['DISCOVER4', 'DISCOVER5', 'bootstrap0', 'bootstrap1', 'bootstrap2', 'bootstrap3', 'bootstrap4', 'bootstrap5'],
  )
})

t.test('hostile addresses: too long, or bound to a non-MAC, bind nothing', async (t) => {
  const { tl } = clocked(t)
  tl.learnIp('1'.repeat(65), A)
  tl.learnIp(IP, 'not-a-mac')
  tl.learnIp(undefined, A)
  t.equal(tl.idOf({ ip: IP }), `ip:${IP}`)
  t.equal(tl.size, 0)
})
