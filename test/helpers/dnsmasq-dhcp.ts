/**
 * dnsmasq as a plain DHCP server inside a LAN host's namespace: the "site's DHCP server" for
 * proxyDHCP tests and the baseline for bench/dhcp-dora.ts. No DNS (port=0), no TFTP, no ping check.
 */
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { requireTool, type Lan } from './netns.js'

export interface DnsmasqDhcp {
  readonly process: ChildProcess
  output(): string
  stop(): Promise<void>
}

export async function startDnsmasqDhcp(
  lan: Lan,
  host: string,
  options: { rangeStart: string; rangeEnd: string; netmask?: string; leaseTime?: string; log?: boolean; extra?: readonly string[] },
): Promise<DnsmasqDhcp> {
  requireTool('dnsmasq', 'apt-get install dnsmasq-base')
  const dir = await mkdtemp(join(tmpdir(), 'bp-dnsmasq-'))
  const child = lan.spawn(host, 'dnsmasq', [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--port=0',
    '--interface=eth0',
    '--bind-interfaces',
    `--dhcp-range=${options.rangeStart},${options.rangeEnd},${options.netmask ?? '255.255.255.0'},${options.leaseTime ?? '1h'}`,
    '--dhcp-authoritative',
    '--no-ping',
    `--dhcp-leasefile=${join(dir, 'leases')}`,
    '--pid-file=',
    '--user=root',
    '--log-facility=-',
    ...(options.log === false ? [] : ['--log-dhcp']),
    ...(options.extra ?? []),
  ])
  let out = ''
  const collect = (c: Buffer): void => {
    out += c.toString()
  }
  child.stdout!.on('data', collect)
  child.stderr!.on('data', collect)
  const deadline = Date.now() + 10_000
  while (!/DHCP, IP range/.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`dnsmasq did not start:\n${out}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    process: child,
    output: () => out,
    stop: async () => {
      if (child.exitCode !== null) return
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await exited
    },
  }
}
