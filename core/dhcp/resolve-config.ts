/**
 * Validates a DHCP config against dhcpConfigSchema, applies its defaults, then checks what a JSON
 * schema cannot say (the pool lies inside the subnet, reservations are real MACs). The core config
 * validates the same schema; running it again here keeps createDhcpService safe to call directly.
 */
import AjvModule, { type ErrorObject } from 'ajv'
import { BootpolicyError } from '../errors/bp-error.js'
import { normalizeMac } from '../context/normalize-mac.js'
import { DEFAULT_ARCH_MAP, dhcpConfigSchema, type DhcpConfig, type ResolvedDhcpConfig } from './config-schema.js'
import { ipToInt, isContiguousMask, sameSubnet } from './ipv4.js'

// ajv is CommonJS: under NodeNext its class sits on `.default`.
const Ajv = ((AjvModule as unknown as { default?: typeof AjvModule.default }).default ?? AjvModule) as typeof AjvModule.default
const validate = new Ajv({ useDefaults: true, allErrors: true, strict: false }).compile(dhcpConfigSchema)

/** Pools are scanned linearly when nearly full; 65,536 addresses keep one scan under a millisecond. */
export const MAX_POOL_SIZE = 65536

export function resolveDhcpConfig(input: DhcpConfig | undefined): ResolvedDhcpConfig {
  const config = structuredClone(input ?? {}) as Record<string, unknown>
  if (!validate(config)) {
    const details = (validate.errors ?? []).map((e: ErrorObject) => `dhcp${e.instancePath} ${e.message ?? ''}`.trim()).join('; ')
    throw new BootpolicyError('BP_ERR_CONFIG_INVALID', { details })
  }
  const resolved = config as unknown as ResolvedDhcpConfig
  // A configured archMap adds to and overrides the defaults instead of replacing them all.
  ;(resolved.boot as { archMap: Record<string, string> }).archMap = { ...DEFAULT_ARCH_MAP, ...resolved.boot.archMap }
  const problems = semanticProblems(resolved)
  if (problems.length > 0) throw new BootpolicyError('BP_ERR_CONFIG_INVALID', { details: problems.join('; ') })
  return resolved
}

/** What a JSON schema cannot say; also run by `bootpolicy check`, which reports each. */
export function semanticProblems(c: ResolvedDhcpConfig): string[] {
  const problems: string[] = []
  if (!isContiguousMask(c.subnetMask)) problems.push('dhcp/subnetMask is not a contiguous netmask')
  if (c.pool) {
    const start = ipToInt(c.pool.start)
    const end = ipToInt(c.pool.end)
    if (end < start) problems.push('dhcp/pool/end is below dhcp/pool/start')
    if (end - start + 1 > MAX_POOL_SIZE) problems.push(`dhcp/pool holds more than ${MAX_POOL_SIZE} addresses`)
    if (!sameSubnet(c.pool.start, c.pool.end, c.subnetMask)) problems.push('dhcp/pool start and end are not in one subnet')
    c.reservations.forEach((r, i) => {
      if (!sameSubnet(r.ip, c.pool!.start, c.subnetMask)) problems.push(`dhcp/reservations/${i}/ip is not in the pool subnet`)
    })
  }
  const seen = new Set<string>()
  c.reservations.forEach((r, i) => {
    const mac = normalizeMac(r.mac)
    if (!mac) problems.push(`dhcp/reservations/${i}/mac is not a MAC address`)
    else if (seen.has(mac)) problems.push(`dhcp/reservations/${i}/mac is reserved twice`)
    else seen.add(mac)
    if (seen.has(`ip:${r.ip}`)) problems.push(`dhcp/reservations/${i}/ip is reserved twice`)
    seen.add(`ip:${r.ip}`)
  })
  return problems
}
