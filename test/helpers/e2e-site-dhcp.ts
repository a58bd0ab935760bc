/**
 * The site's own DHCP server (a home router, pfSense) for scenarios where bootpolicy runs beside
 * it in proxy mode: dnsmasq in a second network namespace (the "router"), joined to the test net's
 * bridge by a veth pair, so it is a separate host on the segment — bootpolicy keeps UDP 67 and
 * 4011 on the server host to itself, as on a real network.
 *
 * The router namespace is `<net.name>dc`: the suffix is hex on purpose, so createTestNet's stale
 * sweep (which matches `bpe2e-<pid>-<hex>`) removes it when a killed run leaves it behind.
 */
import { execFile, execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { TestNet } from './e2e-net.js'
import type { OwnedProcess } from './e2e-process.js'
import { requireCommand } from './e2e-require.js'

const run = promisify(execFile)

export interface SiteDhcpOptions {
  /**
   * dnsmasq lines for boot information, e.g. pfSense's next-server + file name:
   * `dhcp-boot=undionly.kpxe,,10.213.X.1`. Default none: addresses only (seed 001's router).
   */
  readonly bootLines?: readonly string[]
}

export interface SiteDhcp {
  readonly process: OwnedProcess
  /** The router's address on the segment (10.213.X.254). */
  readonly address: string
  readonly namespace: string
  readonly configFile: string
  /** dnsmasq's `log-dhcp` output so far. */
  log(): string
  close(): Promise<void>
}

export async function startSiteDhcp(net: TestNet, options: SiteDhcpOptions = {}): Promise<SiteDhcp> {
  const ip = requireCommand('ip', 'iproute2')
  const dnsmasq = requireCommand('dnsmasq', 'dnsmasq-base')
  const ns = `${net.name}dc`
  const address = net.serverIp.replace(/\.1$/, '.254')
  await run(ip, ['netns', 'add', ns])
  const close = async (): Promise<void> => {
    await proc?.stop()
    try {
      execFileSync(ip, ['netns', 'del', ns], { stdio: 'ignore' })
    } catch {
      // already gone
    }
  }
  let proc: OwnedProcess | undefined
  try {
    await run(ip, ['-n', net.name, 'link', 'add', 'site0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
    await run(ip, ['-n', net.name, 'link', 'set', 'site0', 'master', net.bridge])
    await run(ip, ['-n', net.name, 'link', 'set', 'site0', 'up'])
    await run(ip, ['-n', ns, 'link', 'set', 'lo', 'up'])
    await run(ip, ['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0'])
    await run(ip, ['-n', ns, 'link', 'set', 'eth0', 'up'])
    const configFile = join(net.dir, 'site-dhcp.conf')
    writeFileSync(
      configFile,
      [
        'port=0',
        'interface=eth0',
        'bind-interfaces',
        `dhcp-range=${net.pool.start},${net.pool.end},${net.netmask},1h`,
        'dhcp-authoritative',
        'no-ping',
        `dhcp-leasefile=${join(net.dir, 'site-dhcp.leases')}`,
        `dhcp-option=option:router,${address}`,
        'log-dhcp',
        ...(options.bootLines ?? []),
        '',
      ].join('\n'),
    )
    // Through the test net's spawn (nested `ip netns exec`), so it is stopped with the net.
    proc = net.spawn('site-dhcp', ip, ['netns', 'exec', ns, dnsmasq, `--conf-file=${configFile}`, '--keep-in-foreground', '--log-facility=-', '--pid-file=', '--user=root'])
    await proc.waitForOutput(/DHCP, IP range/, 5000)
    const owned = proc
    return { process: owned, address, namespace: ns, configFile, log: () => owned.output(), close }
  } catch (err) {
    await close()
    throw err
  }
}
