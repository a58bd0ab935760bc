/**
 * The file names pxelinux tries, in order, and which client each one names:
 * `pxelinux.cfg/<uuid>`, `pxelinux.cfg/01-<mac with hyphens>`, the IPv4 address in upper-case hex
 * (C0A80744), then that hex shortened one digit at a time down to one digit, then `default`.
 */

export interface ClientIds {
  /** As pxelinux formats it: the DHCP option 97 bytes in order, lower case, with hyphens. */
  readonly uuid?: string
  /** `aa:bb:cc:dd:ee:ff` or with hyphens. */
  readonly mac?: string
  /** Dotted IPv4. */
  readonly ip?: string
}

export type NameKey = { kind: 'uuid' | 'mac' | 'ip'; key: string } | { kind: 'default' }

export function ipv4Hex(ip: string): string | undefined {
  const m = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/i.exec(ip)
  if (!m) return undefined
  const bytes = m.slice(1).map(Number)
  if (bytes.some((b) => b > 255)) return undefined
  return bytes
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('')
    .toUpperCase()
}

export function macName(mac: string): string {
  return `01-${mac.toLowerCase().replace(/[:-]/g, '').match(/../g)!.join('-')}`
}

/** The UUID with its first three fields byte-swapped: iPXE's ${uuid} ↔ the DHCP option 97 byte order. */
export function swapUuid(uuid: string): string {
  const h = uuid.toLowerCase().replace(/-/g, '')
  const rev = (s: string): string => s.match(/../g)!.reverse().join('')
  const out = rev(h.slice(0, 8)) + rev(h.slice(8, 12)) + rev(h.slice(12, 16)) + h.slice(16)
  return `${out.slice(0, 8)}-${out.slice(8, 12)}-${out.slice(12, 16)}-${out.slice(16, 20)}-${out.slice(20)}`
}

/** Every name pxelinux asks for, in its order. */
export function pxelinuxNames(client: ClientIds): string[] {
  const names: string[] = []
  if (client.uuid) names.push(`pxelinux.cfg/${client.uuid.toLowerCase()}`)
  if (client.mac) names.push(`pxelinux.cfg/${macName(client.mac)}`)
  const hex = client.ip ? ipv4Hex(client.ip) : undefined
  if (hex) for (let n = 8; n >= 1; n--) names.push(`pxelinux.cfg/${hex.slice(0, n)}`)
  names.push('pxelinux.cfg/default')
  return names
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const MAC = /^01-((?:[0-9a-f]{2}-){5}[0-9a-f]{2})$/i

/**
 * What a requested path names: any `…/pxelinux.cfg/<name>` (pxelinux looks beside itself). Only a
 * full 8-digit hex names an address; the shorter prefixes are group files we do not generate.
 */
export function parseName(path: string): NameKey | undefined {
  const m = /(?:^|\/)pxelinux\.cfg\/([^/]+)$/.exec(path)
  if (!m) return undefined
  const name = m[1]!
  if (name === 'default') return { kind: 'default' }
  if (UUID.test(name)) return { kind: 'uuid', key: name.toLowerCase() }
  const mac = MAC.exec(name)
  if (mac) return { kind: 'mac', key: mac[1]!.toLowerCase() }
  if (/^[0-9A-F]{8}$/i.test(name)) return { kind: 'ip', key: name.toUpperCase() }
  return undefined
}
