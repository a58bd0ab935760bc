/**
 * Normalized facts about the client behind one DHCP request: what the boot-file choice and the
 * decideBoot hook look at. Same vocabulary as the HTTP BootContext (canonical MAC, shared arch,
 * iPXE-form UUID), so a policy sees one machine the same way on both paths.
 */
import type { Arch } from '../context/types.js'
import { archFromOption93, isHttpBootArch } from '../context/normalize-arch.js'
import { uuidFromSmbiosBytes } from '../context/normalize-uuid.js'
import type { DhcpPacket } from './packet-codec.js'
import { messageTypeName, Opt, readIp, readText, readU16, readUserClasses } from './options.js'

export interface DhcpClientFacts {
  /** Canonical lower-case colon form of chaddr (Ethernet only). */
  readonly mac: string
  /** Option 61 as lower-case hex, the lease key when present. */
  readonly clientId?: string
  readonly messageType: string
  readonly arch: Arch
  /** Raw option 93 (first entry), e.g. 7 for x64 UEFI. */
  readonly clientArchCode?: number
  /** Option 60, e.g. `PXEClient:Arch:00007:UNDI:003016`. */
  readonly vendorClass?: string
  /** Option 77, RFC 3004 entries joined by `,`, or the raw value (iPXE sends raw `iPXE`). */
  readonly userClass?: string
  /** The client runs iPXE: option 175 present, or a user class `iPXE`. */
  readonly isIpxe: boolean
  /** Option 60 starts with `PXEClient`. */
  readonly isPxe: boolean
  /** UEFI HTTP boot: option 60 starts with `HTTPClient` or option 93 is an HTTP-boot code. */
  readonly isHttpBoot: boolean
  /** Option 97 converted to the form iPXE shows as ${uuid}. */
  readonly uuid?: string
  /** Option 12 as sent by the client. */
  readonly hostname?: string
  /** Relay agent address, present only when relayed. */
  readonly giaddr?: string
  readonly relayed: boolean
  /** Option 50. */
  readonly requestedAddress?: string
  /** ciaddr when not 0.0.0.0. */
  readonly ciaddr?: string
}

const ZERO = '0.0.0.0'

/** Returns undefined for packets that carry no usable Ethernet hardware address. */
export function clientFacts(p: DhcpPacket): DhcpClientFacts | undefined {
  if (p.htype !== 1 || p.hlen !== 6 || p.chaddr.length !== 6) return undefined
  const mac = Array.from(p.chaddr, (x) => x.toString(16).padStart(2, '0')).join(':')
  const o = p.options
  const clientArchCode = readU16(o, Opt.CLIENT_ARCH)
  const vendorClass = readText(o, Opt.VENDOR_CLASS)
  const userClasses = readUserClasses(o)
  const uuidOpt = o.get(Opt.CLIENT_UUID)
  // Option 97: type byte 0 followed by the 16 UUID bytes (RFC 4578 2.3).
  const uuid = uuidOpt?.length === 17 && uuidOpt[0] === 0 ? uuidFromSmbiosBytes(uuidOpt.subarray(1)) : undefined
  const clientId = o.get(Opt.CLIENT_ID)
  const isHttpBoot = vendorClass?.startsWith('HTTPClient') === true || (clientArchCode !== undefined && isHttpBootArch(clientArchCode))
  const facts: DhcpClientFacts = {
    mac,
    messageType: messageTypeName(p.messageType),
    arch: clientArchCode === undefined ? 'unknown' : archFromOption93(clientArchCode),
    isIpxe: o.has(Opt.IPXE_ENCAP) || userClasses.includes('iPXE'),
    isPxe: vendorClass?.startsWith('PXEClient') === true,
    isHttpBoot,
    relayed: p.giaddr !== ZERO,
    ...(clientId && clientId.length > 0 ? { clientId: clientId.toString('hex') } : {}),
    ...(clientArchCode !== undefined ? { clientArchCode } : {}),
    ...(vendorClass !== undefined ? { vendorClass } : {}),
    ...(userClasses.length > 0 ? { userClass: userClasses.join(',') } : {}),
    ...(uuid ? { uuid } : {}),
    ...optional('hostname', readText(o, Opt.HOSTNAME)),
    ...optional('giaddr', p.giaddr !== ZERO ? p.giaddr : undefined),
    ...optional('requestedAddress', readIp(o, Opt.REQUESTED_IP)),
    ...optional('ciaddr', p.ciaddr !== ZERO ? p.ciaddr : undefined),
  }
  return Object.freeze(facts)
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>)
}

/** The key a lease is stored under: client id when sent (RFC 2131 4.2), else the MAC. */
export function leaseKey(facts: DhcpClientFacts): string {
  return facts.clientId ? `id:${facts.clientId}` : `mac:${facts.mac}`
}
