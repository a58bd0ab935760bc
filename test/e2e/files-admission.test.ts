/**
 * Admission control against real iPXE (BIOS, Debian's iPXE ROM in QEMU): with
 * `files.admission.maxConcurrent: 1`, a slow download inside the test network holds the only slot,
 * so iPXE's `kernel` gets 503 + Retry-After. iPXE must wait and retry by itself (its httpcore
 * treats 503 with Retry-After as "try again"), and boot once the slot is freed — the contract in
 * docs/reference/http-api.md#admission-control that bootpolicy's scripts rely on (they have no retry
 * loop of their own).
 */
import t from 'tap'
import { buildBootPayload } from '../helpers/boot-payload.js'
import { bootToMarkerTolerant, serverTail, startBootpolicy } from '../helpers/e2e-bootpolicy.js'
import { createTestNet } from '../helpers/e2e-net.js'
import { requireCommand } from '../helpers/e2e-require.js'

// Real components (QEMU under TCG, namespaces, servers) on a loaded 2-core CI host: well past tap's 120 s per file (package.json).
t.setTimeout(600_000)

const mac = '52:54:00:e2:03:a1' // "alpha" of the per-mac scenario

t.test('iPXE waits out a 503 + Retry-After on its kernel and boots once the slot is free', async (t) => {
  const curl = requireCommand('curl', 'curl')
  const payload = await buildBootPayload()
  const net = await createTestNet()
  t.teardown(() => net.close({ keepLogs: !t.passing() }))
  const server = await startBootpolicy({
    net,
    scenario: 'per-mac',
    payload,
    tftpFiles: [],
    // 48 MiB: larger than what the socket buffers on both ends absorb, so the body cannot finish early.
    extraFiles: { 'hold.bin': { text: 'x'.repeat(48 * 1024 * 1024) } },
    config: { files: { admission: { maxConcurrent: 1, minBytes: 1, retrySeconds: 1, jitterSeconds: 1 } } },
  })
  t.teardown(() => {
    if (!t.passing()) t.comment(serverTail(server))
  })
  // At 100 KiB/s the slot stays taken for minutes unless stopped.
  const holder = net.spawn('holder', curl, ['-s', '--limit-rate', '100k', '-o', '/dev/null', `${server.url}/files/hold.bin`])
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const booting = bootToMarkerTolerant({ net, firmware: 'bios', mac, timeoutMs: 120_000 })
  // Free the slot only after iPXE has been refused at least once.
  const deadline = Date.now() + 90_000
  while (!server.httpRequests().some((r) => r.url === `/files/${payload.kernelName}` && r.status === 503) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  await holder.stop()
  const boot = await booting
  t.equal(boot.report.cmdline, `initrd=${payload.initrdName} console=ttyS0 quiet panic=-1 who=alpha`, 'booted the payload')
  const kernel = server.httpRequests().filter((r) => r.url === `/files/${payload.kernelName}` && r.method === 'GET')
  t.ok(
    kernel.some((r) => r.status === 503),
    `refused first: ${kernel.map((r) => r.status).join(', ')}`,
  )
  t.equal(kernel.at(-1)?.status, 200, 'then served')
})
