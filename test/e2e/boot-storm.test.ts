/**
 * The boot storm at N = 100 (issue 12; bench/boot-storm.ts runs N = 1,000 with the real sizes):
 * 100 simulated machines powered on within one second on a LAN of network namespaces, a quarter of
 * them PXE firmware (DHCP, lock-step TFTP of iPXE, DHCP again as iPXE), the rest iPXE, all then
 * over HTTP from their leased address: /boot.ipxe, /boot, a kernel and an initrd. bootpolicy runs as
 * an operator starts it (`bootpolicy serve`, default configuration besides DHCP, TFTP and files).
 * No timing assertion beyond the generator's own give-up points (iPXE's DHCP schedule, TFTP
 * retries, 60 s without HTTP data): every client must finish with exactly the kernel and initrd
 * sizes (byte counts, not contents: the storm client does not checksum what it receives).
 * Needs root, iproute2, Debian's ipxe and a built dist/ (npm run build).
 */
import t from 'tap'
import { runStorms } from '../../bench/storm/run-storm.js'

// Real components (QEMU under TCG, namespaces, servers) on a loaded 2-core CI host: well past tap's 120 s per file (package.json).
t.setTimeout(600_000)

const N = 100
const KERNEL = 1024 * 1024 + 17
const INITRD = 4 * 1024 * 1024 + 3

t.test('boot storm: 100 machines within one second, none lost, every one served the full sizes', async (t) => {
  const [s] = await runStorms({ clients: N, firmwareShare: 0.25, kernelBytes: KERNEL, initrdBytes: INITRD, stacks: ['bootpolicy'] })
  t.ok(s, 'the storm ran')
  if (!s) return
  const c = s.report.clients
  t.comment(`last completion ${s.lastCompletionMs} ms, DHCP answer p50 ${s.dhcpAnswer.p50} ms p99 ${s.dhcpAnswer.p99} ms, ${s.dhcpRetransmits} DHCP retransmissions`)
  t.same(s.failures, [], 'no client failed')
  t.equal(s.lost, 0, '0 lost')
  t.equal(s.completed, N, 'all 100 completed')
  t.equal(c.length, N, 'one record per client')
  t.equal(new Set(c.map((x) => x.mac)).size, N, 'distinct MACs')
  t.equal(new Set(c.map((x) => x.address)).size, N, 'distinct leased addresses: each client was its own HTTP source')
  t.ok(
    c.every((x) => x.kernelBytes === KERNEL && x.initrdBytes === INITRD),
    'every client received exactly the kernel and initrd sizes',
  )
  const firmware = c.filter((x) => x.firmware)
  t.equal(firmware.length, N / 4, 'a quarter were PXE firmware')
  t.ok(
    firmware.every((x) => x.tftpBytes !== undefined && x.tftpBytes === x.tftpSize && x.tftpBytes > 50_000),
    'every firmware client TFTPed a whole iPXE binary (bytes = tsize)',
  )
  t.ok(
    firmware.every((x) => x.ms['dhcp-firmware'] !== undefined && x.ms['dhcp-ipxe'] !== undefined),
    'firmware clients did DHCP twice, as PXE ROM and as iPXE',
  )
  t.ok(
    c.every((x) => x.reused === 3),
    'each client used one keep-alive connection for its four requests',
  )
  t.equal(s.decisions, N, 'bootpolicy logged one decision per machine')
})
