/**
 * Which boot file a client gets. Order, first match wins:
 *   1. iPXE (option 175 or user class "iPXE") → the bootstrap URL. This is the loop breaker: iPXE
 *      loaded over TFTP asks DHCP again and must not be handed iPXE a second time.
 *   2. vendor-class rules from the config (option 60 prefix/exact), e.g. U-Boot.armv8.
 *   3. UEFI HTTP boot → http URL of the arch map's file, with option 60 "HTTPClient" in the reply.
 *   4. PXE ROM → the arch map (option 93; a PXE client without 93 is treated as BIOS, code 0).
 * Then the decideBoot hook may override the file, next-server and add options.
 */
import type { Logger } from 'pino'
import { BootpolicyError, messageOf } from '../errors/bp-error.js'
import type { ResolvedDhcpConfig } from './config-schema.js'
import type { DhcpClientFacts } from './client-facts.js'
import { SERVER_OWNED_OPTIONS } from './options.js'
import { isIpv4 } from './ipv4.js'

export interface BootOverride {
  readonly bootfile?: string
  readonly nextServer?: string
  /** Extra reply options: code → raw bytes, or a string sent as UTF-8. */
  readonly extraOptions?: Readonly<Record<number, Uint8Array | string>>
}

/** The dhcpOffer hook: parsed facts in, an override or undefined (keep the defaults) out. */
export type DecideBoot = (facts: DhcpClientFacts) => Promise<BootOverride | undefined> | BootOverride | undefined

export interface BootChoice {
  /** undefined: send no boot information (a plain DHCP client). */
  readonly bootfile?: string
  readonly nextServer: string
  /** Why this file was chosen, for the log: `ipxe`, `vendor-class`, `http-boot`, `arch`, `hook`. */
  readonly reason: string
  readonly httpClient: boolean
  readonly extraOptions: ReadonlyMap<number, Buffer>
}

export function defaultBoot(facts: DhcpClientFacts, config: ResolvedDhcpConfig, serverAddress: string): BootChoice {
  const boot = config.boot
  const nextServer = boot.nextServer ?? serverAddress
  const base = { nextServer, httpClient: false, extraOptions: new Map<number, Buffer>() }
  const serverBase = `http://${serverAddress}:${boot.httpPort}/`
  // httpBootUrlBase is where the firmware finds the EFI binary; by default bootpolicy's own /files/
  // route (files.dir), the only place it serves binaries. The iPXE that binary becomes still needs
  // bootpolicy's own /boot.ipxe, so the bootstrap never follows it.
  const httpBase = boot.httpBootUrlBase ?? `${serverBase}files/`
  if (facts.isIpxe) {
    return { ...base, bootfile: boot.ipxeBootstrapUrl ?? `${serverBase}boot.ipxe`, reason: 'ipxe' }
  }
  const vendor = facts.vendorClass
  if (vendor !== undefined) {
    for (const rule of boot.vendorClassRules) {
      if (rule.match === 'exact' ? vendor === rule.value : vendor.startsWith(rule.value)) {
        return { ...base, bootfile: rule.bootfile, nextServer: rule.nextServer ?? nextServer, reason: 'vendor-class' }
      }
    }
  }
  if (facts.isHttpBoot) {
    const file = boot.archMap[String(facts.clientArchCode ?? 16)]
    if (file === undefined) return { ...base, reason: 'unknown-arch' }
    return { ...base, bootfile: /^https?:\/\//.test(file) ? file : `${httpBase}${file}`, httpClient: true, reason: 'http-boot' }
  }
  if (facts.isPxe) {
    const file = boot.archMap[String(facts.clientArchCode ?? 0)]
    return file === undefined ? { ...base, reason: 'unknown-arch' } : { ...base, bootfile: file, reason: 'arch' }
  }
  return { ...base, reason: 'not-a-boot-client' }
}

/**
 * Runs the hook with a time limit. A throw, a timeout or a malformed answer is logged with
 * BP_ERR_DHCP_HOOK and the defaults stand: the client still boots.
 */
export async function chooseBoot(facts: DhcpClientFacts, config: ResolvedDhcpConfig, serverAddress: string, decideBoot: DecideBoot | undefined, log: Logger): Promise<BootChoice> {
  const fallback = defaultBoot(facts, config, serverAddress)
  if (!decideBoot) return fallback
  let timer: NodeJS.Timeout | undefined
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${config.boot.hookTimeoutMs} ms`)), config.boot.hookTimeoutMs)
    })
    const override = await Promise.race([Promise.resolve().then(() => decideBoot(facts)), timeout])
    return override === undefined || override === null ? fallback : applyOverride(fallback, override, log)
  } catch (cause) {
    const err = new BootpolicyError('BP_ERR_DHCP_HOOK', { mac: facts.mac, details: messageOf(cause) }, { cause })
    log.error({ err, client: facts }, 'dhcp decideBoot failed, using defaults')
    return fallback
  } finally {
    clearTimeout(timer)
  }
}

function applyOverride(fallback: BootChoice, o: BootOverride, log: Logger): BootChoice {
  if (typeof o !== 'object') throw new TypeError('decideBoot returned a non-object')
  if (o.bootfile !== undefined && (typeof o.bootfile !== 'string' || o.bootfile.length === 0 || o.bootfile.length > 1024)) {
    throw new TypeError('bootfile must be a non-empty string of at most 1024 characters')
  }
  if (o.nextServer !== undefined && (typeof o.nextServer !== 'string' || !isIpv4(o.nextServer))) {
    throw new TypeError('nextServer must be an IPv4 address')
  }
  const extra = new Map<number, Buffer>()
  for (const [key, value] of Object.entries(o.extraOptions ?? {})) {
    const code = Number(key)
    if (!Number.isInteger(code) || code < 1 || code > 254) throw new TypeError(`extra option ${key} is not a code 1-254`)
    if (SERVER_OWNED_OPTIONS.has(code)) {
      log.warn({ option: code }, 'dhcp decideBoot tried to set a server-owned option, ignored')
      continue
    }
    if (typeof value === 'string') extra.set(code, Buffer.from(value, 'utf8'))
    else if (value instanceof Uint8Array) extra.set(code, Buffer.from(value))
    else throw new TypeError(`extra option ${key} is neither a string nor bytes`)
  }
  const bootfile = o.bootfile ?? fallback.bootfile
  return {
    ...fallback,
    ...(bootfile !== undefined ? { bootfile } : {}),
    nextServer: o.nextServer ?? fallback.nextServer,
    reason: 'hook',
    extraOptions: extra,
  }
}
