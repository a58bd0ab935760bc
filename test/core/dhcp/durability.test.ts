/**
 * Group commit and the durability promise, against the real server process: a burst of
 * concurrent REQUESTs is acknowledged with fewer fsyncs than ACKs (strace on the server and its
 * commit metric), each ACK leaves (sendmsg, seen by strace) only after a write of its lease to the
 * journal and an fdatasync after that write, a SIGKILL in the middle of a burst loses no lease that was ACKed, and on a full
 * disk (a tiny tmpfs) no ACK goes out for a lease that did not reach it: silence (RFC 2131 lets
 * the client retransmit), a loud log line, and every ACK that did go out is in the file.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { execFile } from 'node:child_process'
import { mkdtemp, open, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createLan, requireTool, type Lan } from '../../helpers/netns.js'
import { nodeTs, REPO_ROOT, startDhcpServer, type DhcpServerHandle } from '../../helpers/dhcp-server.js'
import type { DhcpConfig } from '../../../core/dhcp/config-schema.js'
import { completedCalls } from '../../helpers/strace-calls.js'

// Four burst execs of up to 120 s each and a 60 s wait: on a loaded host their own deadlines, not
// tap's 300 s per file, should be what a slow run meets.
t.setTimeout(600_000)

const execFileP = promisify(execFile)
const SERVER = '10.84.0.1'
const config: DhcpConfig = { mode: 'full', serverAddress: SERVER, pool: { start: '10.84.1.0', end: '10.84.8.255' }, subnetMask: '255.255.0.0', leaseSeconds: 3600 }

type BurstResult = { mac: string; result: 'ack' | 'nak' | 'no-offer' | 'no-ack'; ip?: string }
interface BurstJob {
  clients: number
  window: number
  seconds?: number
  stageMs?: number
  macPrefix: string
}
const burstInput = (job: BurstJob): string => JSON.stringify({ seconds: 60, stageMs: 10_000, sourceAddress: '10.84.0.9', ...job })

async function burst(lan: Lan, job: BurstJob): Promise<BurstResult[]> {
  const { stdout } = await lan.exec('cli', process.execPath, nodeTs('test/helpers/dora-burst.ts'), { input: burstInput(job), cwd: REPO_ROOT, timeoutMs: 120_000 })
  return (JSON.parse(stdout) as { results: BurstResult[] }).results
}

/** Every ACKed (mac, ip) must be a bound lease of the server. */
async function missingAcks(srv: DhcpServerHandle, acks: BurstResult[]): Promise<BurstResult[]> {
  const bound = new Map((await srv.leases()).filter((l) => l.state === 'bound').map((l) => [l.mac, l.ip]))
  return acks.filter((a) => bound.get(a.mac) !== a.ip)
}

/** strace -xx string argument → bytes. */
const unhex = (s: string): Buffer => Buffer.from(s.replace(/\\x/g, ''), 'hex')

/** The address an ACK carries (yiaddr), or undefined for any other packet. */
function ackAddress(p: Buffer): string | undefined {
  if (p.length < 240 || p[0] !== 2 || p.readUInt32BE(236) !== 0x63825363) return undefined
  for (let i = 240; i + 1 < p.length && p[i] !== 255; i += p[i] === 0 ? 1 : 2 + p[i + 1]!) {
    if (p[i] === 53) return p[i + 2] === 5 ? [...p.subarray(16, 20)].join('.') : undefined
  }
  return undefined
}

/**
 * Walks the server's calls in order: for every ACK sent, its lease must have been written to the
 * journal before, and the journal fdatasynced after that write and before the send.
 */
function ackOrder(calls: string[], journal: string): { acks: number; early: string[] } {
  const written = new Map<string, number>()
  let synced = -1
  let acks = 0
  const early: string[] = []
  // -xx writes the fd's path in hex too.
  const onJournal = (line: string): boolean =>
    unhex(/^\w+\(\d+<((?:\\x[0-9a-f]{2})*)>/.exec(line)?.[1] ?? '')
      .toString()
      .endsWith(`/${journal}`)
  calls.forEach((line, i) => {
    if (line.startsWith('fdatasync(') && onJournal(line) && /= 0$/.test(line)) synced = i
    else if (line.startsWith('write(') && onJournal(line)) {
      const text = unhex(/, "((?:\\x[0-9a-f]{2})*)"/.exec(line)?.[1] ?? '').toString('utf8')
      for (const m of text.matchAll(/"ip":"([0-9.]+)"/g)) written.set(m[1]!, i)
    } else if (/^send(m?msg|to)\(/.test(line)) {
      for (const m of line.matchAll(/(?:iov_base=|^sendto\(\d+<[^>]*>, )"((?:\\x[0-9a-f]{2})*)"/g)) {
        const ip = ackAddress(unhex(m[1]!))
        if (ip === undefined) continue
        acks++
        const w = written.get(ip)
        if (w === undefined || synced < w) early.push(`${ip} (sent at call ${i}, written at ${w ?? 'never'}, last fdatasync at ${synced})`)
      }
    }
  })
  return { acks, early: early.slice(0, 5) }
}

const lanHosts = [
  { name: 'srv', address: `${SERVER}/16` },
  { name: 'cli', address: '10.84.0.9/16' },
]

t.test('a burst of concurrent REQUESTs shares fsyncs: fewer flushes than ACKs, each ACK sent after its lease was fdatasynced', async (t) => {
  requireTool('strace', 'apt-get install strace')
  const lan = await createLan(t, lanHosts)
  const srv = await startDhcpServer(lan, 'srv', config, { logLevel: 'warn' })
  const traceFile = join(await mkdtemp(join(tmpdir(), 'bp-strace-')), 'trace')
  const strace = spawn('strace', ['-f', '-qq', '-y', '-xx', '-s', '65536', '-e', 'trace=fsync,fdatasync,write,sendmsg,sendmmsg,sendto', '-o', traceFile, '-p', String(srv.process.pid)], {
    stdio: 'ignore',
  })
  const traced = async (): Promise<boolean> => /TracerPid:\s+[1-9]/.test(await readFile(`/proc/${srv.process.pid}/status`, 'utf8'))
  for (let i = 0; i < 100 && !(await traced()); i++) await new Promise((r) => setTimeout(r, 100))
  t.ok(await traced(), 'strace is attached to the server')

  const results = await burst(lan, { clients: 600, window: 64, macPrefix: '02:c1' })
  const metrics = await srv.metrics()
  strace.kill('SIGINT')
  await new Promise((r) => strace.once('exit', r))
  const calls = completedCalls(await readFile(traceFile, 'utf8'), (l) => /^send/.test(l))
  const flushes = calls.filter((l) => /^(fsync|fdatasync)\(/.test(l)).length
  const order = ackOrder(calls, 'dhcp-leases.json')

  const acks = results.filter((r) => r.result === 'ack')
  t.equal(acks.length, 600, `every client of the burst got its ACK (${JSON.stringify(results.filter((r) => r.result !== 'ack').slice(0, 3))})`)
  const serverAcks = metrics.get('bootpolicy_dhcp_replies_total{type="ack"}')!
  const commits = metrics.get('bootpolicy_dhcp_lease_commits_total')!
  t.equal(serverAcks, 600, 'the server counted 600 ACKs')
  t.ok(commits < serverAcks, `lease commits (${commits}) < ACKs (${serverAcks})`)
  t.ok(flushes < serverAcks, `fsync/fdatasync calls seen by strace (${flushes}) < ACKs (${serverAcks})`)
  t.ok(flushes >= commits, `each commit flushed the disk (${flushes} flushes for ${commits} commits)`)
  t.equal(order.acks, 600, 'strace saw the 600 ACKs leave the server')
  t.same(order.early, [], 'each ACK was sent after a write of its lease to the journal and an fdatasync of the journal after that write')
  t.ok(metrics.get('bootpolicy_dhcp_lease_changes_committed_total')! >= 600, 'every bound lease was committed')
  t.same(await missingAcks(srv, acks), [], 'and every ACK has its bound lease')
  await srv.stop()
})

t.test('hazard: SIGKILL in the middle of a burst loses no ACKed lease', async (t) => {
  const lan = await createLan(t, lanHosts)
  let srv = await startDhcpServer(lan, 'srv', config, { logLevel: 'warn' })
  const child = lan.spawn('cli', process.execPath, nodeTs('test/helpers/dora-burst.ts'), { cwd: REPO_ROOT })
  let stdout = ''
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    stdout += c
  })
  const exited = new Promise((r) => child.once('exit', r))
  child.stdin!.end(burstInput({ clients: 20_000, window: 32, stageMs: 2000, macPrefix: '02:c2' }))
  // Kill while ACKs are streaming out: some REQUESTs are mid-commit at that instant.
  const started = Date.now()
  while (((await srv.metrics()).get('bootpolicy_dhcp_replies_total{type="ack"}') ?? 0) < 300 && Date.now() - started < 60_000) await new Promise((r) => setTimeout(r, 50))
  await srv.kill()
  await new Promise((r) => setTimeout(r, 500))
  child.kill('SIGTERM')
  await exited
  const acks = (JSON.parse(stdout) as { results: BurstResult[] }).results.filter((r) => r.result === 'ack')
  t.ok(acks.length >= 300, `${acks.length} ACKs received before the kill`)

  srv = await startDhcpServer(lan, 'srv', config, { stateDir: srv.stateDir, logLevel: 'warn' })
  t.same(await missingAcks(srv, acks), [], 'after the restart every ACKed lease is in the lease file')
  await srv.stop()
})

t.test('hazard: a full disk gets no ACK out for a lease that is not durable', async (t) => {
  requireTool('mount', 'apt-get install mount')
  const lan = await createLan(t, lanHosts)
  const stateDir = await mkdtemp(join(tmpdir(), 'bp-dhcp-full-'))
  // A 64 KiB tmpfs, mounted before the server's namespace is entered, so the server sees it.
  await execFileP('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'bp-full-disk', stateDir])
  t.teardown(async () => {
    await execFileP('umount', ['-l', stateDir]).catch(() => undefined)
    await rm(stateDir, { recursive: true, force: true })
  })
  let srv = await startDhcpServer(lan, 'srv', config, { stateDir, logLevel: 'info' })
  const before = await burst(lan, { clients: 5, window: 5, macPrefix: '02:c3' })
  t.equal(before.filter((r) => r.result === 'ack').length, 5, 'with space left, leases are ACKed')

  // Fill the disk to the last byte.
  const filler = await open(join(stateDir, 'filler'), 'w')
  const chunk = Buffer.alloc(4096, 1)
  try {
    for (;;) await filler.write(chunk)
  } catch (err) {
    t.equal((err as NodeJS.ErrnoException).code, 'ENOSPC', 'the tmpfs is full')
  }
  for (let n = 1; n > 0; ) n = (await filler.write(Buffer.alloc(1)).catch(() => ({ bytesWritten: 0 }))).bytesWritten
  await filler.close()

  const during = await burst(lan, { clients: 80, window: 8, stageMs: 3000, macPrefix: '02:c4' })
  const acked = during.filter((r) => r.result === 'ack')
  const silent = during.filter((r) => r.result === 'no-ack')
  t.equal(during.filter((r) => r.result === 'nak').length, 0, 'no NAK: the client may retransmit')
  t.ok(silent.length > 0, `REQUESTs whose lease could not be written got silence (${silent.length} of 80; ${acked.length} fit the file's last page)`)
  const metrics = await srv.metrics()
  t.equal(metrics.get('bootpolicy_dhcp_acks_withheld_total'), silent.length, 'each one counted as withheld')
  t.ok(metrics.get('bootpolicy_dhcp_lease_commit_failures_total')! > 0)
  const loud = srv.logs.find((l) => l.msg === 'dhcp lease not durable, no reply sent')
  t.match(loud, { level: 50, err: { code: 'BP_ERR_DHCP_STATE' } }, 'logged at error with BP_ERR_DHCP_STATE')
  t.notOk(srv.exited, 'the server keeps running')

  // Crash, free the disk, restart: every ACK that went out is in the file.
  await srv.kill()
  await rm(join(stateDir, 'filler'))
  srv = await startDhcpServer(lan, 'srv', config, { stateDir, logLevel: 'warn' })
  t.same(await missingAcks(srv, [...before, ...acked]), [], 'every ACKed lease survived')
  const again = await burst(lan, { clients: 3, window: 3, macPrefix: '02:c5' })
  t.equal(again.filter((r) => r.result === 'ack').length, 3, 'with space again, leases are ACKed')
  await srv.stop()
})
