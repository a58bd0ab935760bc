/**
 * The boot-storm generator: one process, run inside the client namespace, that powers on `clients`
 * simulated machines within `powerOnMs` and boots each as real hardware does:
 *  - a firmware PXE client (every 1/firmwareShare-th machine; arch 0 BIOS and 7 UEFI alternate):
 *    DORA as a PXE ROM (option 60 PXEClient, 93, 94, 97, no user class), takes the leased address,
 *    TFTPs the boot file DHCP named lock-step (BIOS ROMs ask blksize 1456; OVMF probes the size,
 *    aborts, then asks 1468), then boots it: iPXE, which does DORA again;
 *  - an iPXE client (NIC ROM is iPXE): straight to DORA with user class iPXE and option 175;
 *  then the HTTP phases (http-boot.ts) from its address. Per-client phase times go to stdout.
 * Job on stdin (StormJob); prints a StormReport.
 */
import { IPXE_OPTIONS, pxeOptions } from '../../test/helpers/dhcp-packets.js'
import { AddressBinder } from './address-binder.js'
import { DhcpSessions, type Lease } from './dhcp-session.js'
import { httpBoot } from './http-boot.js'
import { tftpLockstep } from './tftp-lockstep.js'

export interface StormJob {
  readonly clients: number
  /** Share of firmware PXE clients, 0–1. */
  readonly firmwareShare: number
  readonly powerOnMs: number
  /** The generator's own address on `ifname` (DHCP is sent from it; it is outside the pool). */
  readonly sourceAddress: string
  readonly ifname: string
  readonly prefixLength: number
  /** Second MAC byte, so two storms on one LAN use distinct MACs. */
  readonly macTag: number
}

export interface ClientRecord {
  readonly n: number
  readonly mac: string
  readonly firmware: boolean
  /** ms after the generator's t0. */
  readonly poweredOnAt: number
  readonly doneAt?: number
  readonly error?: string
  readonly phase: string
  /** The address of the last lease (the iPXE one). */
  readonly address?: string
  /** Phase durations in ms. */
  readonly ms: Readonly<Record<string, number>>
  /** DHCP answer times (first send to answer), ms. */
  readonly dhcpAnswers: number[]
  readonly dhcpRetransmits: number
  readonly tftpBytes?: number
  readonly tftpSize?: number
  readonly kernelBytes?: number
  readonly initrdBytes?: number
  readonly reused?: number
}

export interface StormReport {
  readonly clients: ClientRecord[]
  /** ms from t0 to the last client's completion. */
  readonly wallMs: number
}

const hex2 = (b: number): string => (b & 0xff).toString(16).padStart(2, '0')

export async function runStorm(job: StormJob): Promise<StormReport> {
  const dhcp = await DhcpSessions.open(job.sourceAddress)
  const binder = new AddressBinder(job.ifname, job.prefixLength)
  const firmwareEvery = job.firmwareShare > 0 ? Math.max(1, Math.round(1 / job.firmwareShare)) : 0
  const t0 = performance.now()
  const boot = async (n: number): Promise<ClientRecord> => {
    const mac = `02:${hex2(job.macTag)}:00:${hex2(n >> 16)}:${hex2(n >> 8)}:${hex2(n)}`
    const firmware = firmwareEvery > 0 && n % firmwareEvery === 0
    const arch = firmware ? ((n / firmwareEvery) % 2 === 0 ? 0 : 7) : n % 2 === 0 ? 7 : 0
    const uuid = `8a5f${hex2(job.macTag)}${hex2(n >> 16)}-${hex2(n >> 8)}${hex2(n)}-4000-8000-${mac.replaceAll(':', '')}`
    const uuidHex = uuid.replaceAll('-', '')
    const delay = (job.powerOnMs * n) / Math.max(1, job.clients)
    await new Promise((r) => setTimeout(r, delay))
    const poweredOnAt = performance.now() - t0
    const ms: Record<string, number> = {}
    const dhcpAnswers: number[] = []
    let dhcpRetransmits = 0
    let phase = 'dhcp'
    const rec = (extra: Partial<ClientRecord>): ClientRecord => ({ n, mac, firmware, poweredOnAt, phase, ms, dhcpAnswers, dhcpRetransmits, ...extra })
    const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
      phase = name
      const s = performance.now()
      const out = await f()
      ms[name] = performance.now() - s
      return out
    }
    const dora = async (name: string, options: Parameters<DhcpSessions['dora']>[1]): Promise<Lease> => {
      const lease = await timed(name, () => dhcp.dora(mac, options))
      if (!lease) throw new Error(`${name}: no lease after iPXE's retransmission schedule`)
      dhcpAnswers.push(lease.offerMs, lease.ackMs)
      dhcpRetransmits += lease.retransmits
      await timed(`${name}-bind`, () => binder.bind(lease.address))
      return lease
    }
    try {
      let tftp: { bytes: number; tsize?: number } | undefined
      if (firmware) {
        const lease = await dora('dhcp-firmware', pxeOptions(arch, uuidHex))
        if (!lease.bootfile || lease.bootfile.startsWith('http')) throw new Error(`dhcp-firmware: boot file ${JSON.stringify(lease.bootfile)} is not a TFTP file`)
        tftp = await timed('tftp', () => tftpLockstep({ localAddress: lease.address, server: lease.nextServer, file: lease.bootfile, blksize: arch === 7 ? 1468 : 1456, probeFirst: arch === 7 }))
        if (tftp.tsize !== undefined && tftp.tsize !== tftp.bytes) throw new Error(`tftp: ${tftp.bytes} bytes, tsize said ${tftp.tsize}`)
      }
      const lease = await dora('dhcp-ipxe', [...pxeOptions(arch, uuidHex), ...IPXE_OPTIONS])
      if (!/^https?:\/\//.test(lease.bootfile)) throw new Error(`dhcp-ipxe: boot file ${JSON.stringify(lease.bootfile)} is not a URL`)
      const settings = {
        mac,
        uuid,
        buildarch: arch === 7 ? 'x86_64' : 'i386',
        platform: arch === 7 ? 'efi' : 'pcbios',
        ip: lease.address,
        serial: `SN-STORM-${n}`,
        manufacturer: 'QEMU',
        product: 'Standard PC (Q35 + ICH9, 2009)',
      }
      const h = await timed('http', () => httpBoot({ localAddress: lease.address, bootUrl: lease.bootfile, settings }))
      ms.script = h.scriptMs
      ms.kernel = h.kernelMs
      ms.initrd = h.initrdMs
      phase = 'done'
      return rec({
        address: lease.address,
        doneAt: performance.now() - t0,
        ...(tftp ? { tftpBytes: tftp.bytes, ...(tftp.tsize !== undefined ? { tftpSize: tftp.tsize } : {}) } : {}),
        kernelBytes: h.kernelBytes,
        initrdBytes: h.initrdBytes,
        reused: h.reused,
      })
    } catch (err) {
      return rec({ error: (err as Error).message })
    }
  }
  try {
    const clients = await Promise.all(Array.from({ length: job.clients }, (_, n) => boot(n)))
    const done = clients.map((c) => c.doneAt ?? 0)
    return { clients, wallMs: Math.max(0, ...done) }
  } finally {
    dhcp.close()
    await binder.close()
  }
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  let input = ''
  for await (const chunk of process.stdin) input += String(chunk)
  const report = await runStorm(JSON.parse(input) as StormJob)
  process.stdout.write(JSON.stringify(report))
}
