/**
 * `bootpolicy check` for the DHCP and TFTP settings: what the schema cannot see and what would
 * otherwise surface only when a machine fails to boot — a pool outside the served network,
 * reservations outside it or twice, boot files that are not in the TFTP root.
 * Each finding names a JSON pointer into the config; the caller turns it into file:line:col.
 */
import { realpathSync, statSync } from 'node:fs'
import { resolve, sep } from 'node:path'
import type { Config } from '../config/config-types.js'
import { DEFAULT_ARCH_MAP, type ResolvedDhcpConfig } from '../dhcp/config-schema.js'
import { ipv4Addresses } from '../dhcp/interface-addresses.js'
import { ipToInt } from '../dhcp/ipv4.js'
import { semanticProblems } from '../dhcp/resolve-config.js'

export interface ConfigFinding {
  readonly severity: 'error' | 'warning'
  readonly pointer: string
  readonly code: string
  readonly message: string
}

/** Option-93 codes whose boot file is handed out as an http:// URL (UEFI HTTP boot), not over TFTP. */
const HTTP_BOOT_ARCHES = new Set(['15', '16', '18', '19'])

export function networkFindings(config: Config, raw: Record<string, unknown>): ConfigFinding[] {
  const dhcp = config.dhcp as unknown as ResolvedDhcpConfig
  if (dhcp.mode === 'off') return []
  const findings: ConfigFinding[] = []
  for (const p of semanticProblems(dhcp)) {
    const path = p.split(' ')[0]!
    findings.push({ severity: 'error', pointer: `/${path}`, code: 'BP_ERR_CONFIG_DHCP', message: p })
  }
  if (dhcp.mode === 'full') findings.push(...subnetFindings(dhcp))
  if (config.tftp.enabled) findings.push(...bootFileFindings(dhcp, config.tftp.root, raw))
  return findings
}

/** The served network: serverAddress with dhcp.subnetMask, else the interface's own address and mask. */
function servedNetwork(dhcp: ResolvedDhcpConfig): { address: string; mask: string; from: string } | ConfigFinding | undefined {
  if (dhcp.serverAddress) return { address: dhcp.serverAddress, mask: dhcp.subnetMask, from: `dhcp.serverAddress ${dhcp.serverAddress}/${dhcp.subnetMask}` }
  if (!dhcp.interface) return undefined
  const addr = ipv4Addresses().find((a) => a.interface === dhcp.interface)
  if (!addr) return { severity: 'warning', pointer: '/dhcp/interface', code: 'BPWRN007', message: `interface ${dhcp.interface} is not present on this host; the pool was not compared with its subnet` }
  return { address: addr.address, mask: addr.netmask, from: `interface ${dhcp.interface} (${addr.address}/${addr.netmask})` }
}

function subnetFindings(dhcp: ResolvedDhcpConfig): ConfigFinding[] {
  const net = servedNetwork(dhcp)
  if (!net) return []
  if ('code' in net) return [net]
  const mask = ipToInt(net.mask)
  const network = (ipToInt(net.address) & mask) >>> 0
  const inside = (ip: string): boolean => (ipToInt(ip) & mask) >>> 0 === network
  const findings: ConfigFinding[] = []
  const outside = (pointer: string, what: string, ip: string): void => {
    findings.push({ severity: 'error', pointer, code: 'BP_ERR_CONFIG_DHCP', message: `${what} ${ip} is outside the network of ${net.from}` })
  }
  if (dhcp.pool) {
    if (!inside(dhcp.pool.start)) outside('/dhcp/pool/start', 'dhcp.pool.start', dhcp.pool.start)
    if (!inside(dhcp.pool.end)) outside('/dhcp/pool/end', 'dhcp.pool.end', dhcp.pool.end)
  }
  dhcp.reservations.forEach((r, i) => {
    if (!inside(r.ip)) outside(`/dhcp/reservations/${i}/ip`, `reservation ${r.mac}`, r.ip)
  })
  return findings
}

function bootFileFindings(dhcp: ResolvedDhcpConfig, root: string, raw: Record<string, unknown>): ConfigFinding[] {
  let realRoot: string
  try {
    realRoot = realpathSync(root)
    if (!statSync(realRoot).isDirectory()) throw new Error('not a directory')
  } catch {
    return [{ severity: 'error', pointer: '/tftp/root', code: 'BP_ERR_TFTP_ROOT', message: `TFTP root ${root} is not a readable directory` }]
  }
  // The TFTP server serves nothing outside the root's realpath, so a symlink out of it counts as missing.
  const present = (name: string): boolean => {
    try {
      const file = realpathSync(resolve(realRoot, name.replace(/^\/+/, '')))
      return file.startsWith(realRoot + sep) && statSync(file).isFile()
    } catch {
      return false
    }
  }
  const viaTftp = (name: string): boolean => !name.includes('://')
  const findings: ConfigFinding[] = []
  const explicit = ((raw.dhcp as { boot?: { archMap?: Record<string, unknown> } } | undefined)?.boot?.archMap ?? {}) as Record<string, unknown>
  const missingDefaults: string[] = []
  for (const [arch, name] of Object.entries({ ...DEFAULT_ARCH_MAP, ...dhcp.boot.archMap })) {
    if (HTTP_BOOT_ARCHES.has(arch) || !viaTftp(name) || present(name)) continue
    if (arch in explicit) {
      findings.push({ severity: 'error', pointer: `/dhcp/boot/archMap/${arch}`, code: 'BP_ERR_CONFIG_BOOT_FILE', message: `boot file ${name} (arch ${arch}) is not under tftp.root (${root})` })
    } else if (!missingDefaults.includes(name)) missingDefaults.push(name)
  }
  dhcp.boot.vendorClassRules.forEach((rule, i) => {
    // A rule with its own nextServer points at another TFTP server, which check cannot see.
    if (rule.nextServer || !viaTftp(rule.bootfile) || present(rule.bootfile)) return
    findings.push({ severity: 'error', pointer: `/dhcp/boot/vendorClassRules/${i}/bootfile`, code: 'BP_ERR_CONFIG_BOOT_FILE', message: `boot file ${rule.bootfile} is not under tftp.root (${root})` })
  })
  if (missingDefaults.length) {
    findings.push({ severity: 'warning', pointer: '/tftp/root', code: 'BPWRN006', message: `default boot files missing under tftp.root (${root}): ${missingDefaults.join(', ')}` })
  }
  return findings
}
