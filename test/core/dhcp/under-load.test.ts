/**
 * The receive queue under a real overload: a scripted host floods the server's socket with more
 * DISCOVERs than it can answer while real busybox udhcpc clients do DORA. The flood comes in bursts
 * of 100 every 10 ms (each overfills the test's queue of 32): flat out, on a quiet machine, it
 * made a real client's DISCOVERs survive only by chance (15 of 15 dropped in one run). The real clients get
 * leases, the oldest packets are dropped (counted, logged rate-limited with BP_ERR_DHCP_OVERLOAD),
 * the server survives, and its memory is bounded: the queue's high-water mark and the requests in
 * flight, read from the service's metrics, never pass their configured bounds, and the server
 * process's resident memory (VmRSS, sampled once a second through the flood: with 100 ms
 * sampling real clients failed in 3 of 3 runs here, with none in 2) grows by less than
 * RSS_GROWTH_MAX over its level before it (an unbounded queue would hold the ~24 s of flood).
 */
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { createLan } from '../../helpers/netns.js'
import { nodeTs, REPO_ROOT, startDhcpServer } from '../../helpers/dhcp-server.js'
import { udhcpc } from '../../helpers/dhcp-clients.js'

const SERVER = '10.83.0.1'
const CAPACITY = 32
const IN_FLIGHT = 32
/** Generous: the heap may grow and GC late on a loaded machine; a queue holding the flood would be far past it. */
const RSS_GROWTH_MAX = 96 * 1024 * 1024

async function rssOf(pid: number): Promise<number> {
  const kb = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(kb[1]) * 1024
}

t.test('a DISCOVER flood beyond capacity: real clients still get leases, memory stays bounded', async (t) => {
  const lan = await createLan(t, [{ name: 'srv', address: `${SERVER}/24` }, { name: 'flood', address: '10.83.0.66/24' }, { name: 'c1' }, { name: 'c2' }, { name: 'c3' }])
  const srv = await startDhcpServer(
    lan,
    'srv',
    { mode: 'full', serverAddress: SERVER, interface: 'eth0', pool: { start: '10.83.0.10', end: '10.83.0.250' }, queue: { capacity: CAPACITY, inFlight: IN_FLIGHT } },
    { logLevel: 'warn' },
  )
  const pid = srv.process.pid!
  const rssBefore = await rssOf(pid)
  let rssPeak = rssBefore
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      rssPeak = Math.max(rssPeak, await rssOf(pid).catch(() => 0))
      await new Promise((r) => setTimeout(r, 1000))
    }
  })()
  const floodStarted = Date.now()
  const flood = lan.exec('flood', process.execPath, nodeTs('test/helpers/dhcp-flood.ts'), {
    // Relayed DISCOVERs (giaddr): the server does the same work, and its OFFERs go back unicast to
    // the flooder instead of drowning the real clients' own sockets in broadcasts, which is a
    // client-side effect this test is not about.
    input: JSON.stringify({ seconds: 24, macs: 40, sourceAddress: '10.83.0.66', giaddr: '10.83.0.66', pps: 10_000 }),
    cwd: REPO_ROOT,
    timeoutMs: 60_000,
  })
  // The clients start once the flood is under way (starting node in a namespace takes a while here).
  const started = Date.now()
  let during = await srv.metrics()
  while ((during.get('bootpolicy_dhcp_packets_received_total') ?? 0) < 2000 && Date.now() - started < 30_000) {
    await new Promise((r) => setTimeout(r, 100))
    during = await srv.metrics()
  }
  // Retries as a real client makes them (busybox: -t tries, -T seconds apart), and a client that
  // gave up starts over, as a real one does (at most 3 runs). Under this flood on a quiet 2-core
  // machine all three REQUESTs of one offer were sometimes unanswered (cause not yet found: see
  // docs/reference/dhcp.md), so a client may finish after the flood.
  const floodEnded = flood.then(() => Date.now())
  const lease = async (host: string): Promise<Awaited<ReturnType<typeof udhcpc>>> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await udhcpc(lan, host, ['-t', '15', '-T', '1'])
      } catch (err) {
        if (attempt === 3) throw err
      }
    }
  }
  const clients = await Promise.allSettled(['c1', 'c2', 'c3'].map(lease))
  const clientsDone = Date.now()
  const { sent } = JSON.parse((await flood).stdout) as { sent: number }
  sampling = false
  await sampler
  t.comment(`the clients were done ${clientsDone - started} ms after they started`)
  const after = await srv.metrics()

  t.ok(during.get('bootpolicy_dhcp_packets_received_total')! >= 2000, 'the flood reached the server before the clients started')
  for (const [i, c] of clients.entries())
    t.equal(c.status === 'fulfilled' ? c.value.ip?.startsWith('10.83.0.') : String(c.reason), true, `real client c${i + 1} got a lease, starting during the flood`)
  t.comment(JSON.stringify(clients.map((c) => (c.status === 'fulfilled' ? c.value.ip : String(c.reason).slice(0, 300)))))
  const dropped = after.get('bootpolicy_dhcp_packets_dropped_total{reason="queue_full"}')!
  t.ok(dropped > 0, `oldest packets dropped under overload: ${dropped} of ${after.get('bootpolicy_dhcp_packets_received_total')} received (${sent} sent)`)
  t.ok(after.get('bootpolicy_dhcp_queue_length_max')! <= CAPACITY, `queue never above its capacity (high-water ${after.get('bootpolicy_dhcp_queue_length_max')})`)
  t.equal(after.get('bootpolicy_dhcp_queue_capacity'), CAPACITY)
  t.ok(after.get('bootpolicy_dhcp_in_flight_max')! <= IN_FLIGHT, `requests in flight never above the limit (max ${after.get('bootpolicy_dhcp_in_flight_max')})`)
  t.ok(after.get('bootpolicy_dhcp_replies_total{type="offer"}')! > 0, 'the server kept answering')
  t.notOk(srv.exited, 'nothing crashed')
  const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`
  t.ok(rssPeak - rssBefore < RSS_GROWTH_MAX, `resident memory through the flood: ${mib(rssBefore)} before, ${mib(rssPeak)} at most (bound: +${mib(RSS_GROWTH_MAX)})`)

  const warns = srv.logs.filter((l) => l.msg === 'dhcp receive queue full, oldest packets dropped')
  t.ok(warns.length >= 1, 'the overload is logged')
  // At most one line per 10 s window the flood spanned (a 24 s flood may log at 0, 10 and 20 s).
  const windows = Math.floor(((await floodEnded) - floodStarted) / 10_000) + 1
  t.ok(warns.length <= windows, `rate-limited: ${warns.length} warn lines for ${dropped} drops over ${windows} 10-s windows`)
  t.match(warns[0], { err: { code: 'BP_ERR_DHCP_OVERLOAD' }, droppedTotal: Number })

  const calm = await udhcpc(lan, 'c1')
  t.match(calm.ip, /^10\.83\.0\./, 'after the flood a client gets a lease at once')
  t.equal((await srv.metrics()).get('bootpolicy_dhcp_queue_length'), 0, 'and the queue has drained')
  await srv.stop()
})
