const CANONICAL = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/**
 * Canonical UUID: lower-case 8-4-4-4-12. Accepts upper case, braces and bare 32-hex forms.
 * Returns undefined for anything else.
 */
export function normalizeUuid(input: string): string | undefined {
  const s = input
    .trim()
    .toLowerCase()
    .replace(/^\{(.*)\}$/, '$1')
  if (CANONICAL.test(s)) return s
  if (/^[0-9a-f]{32}$/.test(s)) {
    return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`
  }
  return undefined
}

/**
 * DHCP option 97 carries the SMBIOS UUID with its first three fields little-endian.
 * This converts those 16 raw bytes (after the type byte) to the form iPXE shows as ${uuid}.
 */
export function uuidFromSmbiosBytes(bytes: Uint8Array): string | undefined {
  if (bytes.length !== 16) return undefined
  const b = Array.from(bytes, (x) => x.toString(16).padStart(2, '0'))
  const swapped = [b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], ...b.slice(8)].join('')
  return normalizeUuid(swapped)
}
