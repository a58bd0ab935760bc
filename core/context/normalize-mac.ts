/**
 * Canonical MAC form: six lower-case hex octets joined by colons.
 * Accepts colon, hyphen, dot (Cisco `aabb.ccdd.eeff`) and bare hex, any case.
 * Returns undefined for anything that is not exactly 6 octets.
 */
export function normalizeMac(input: string): string | undefined {
  const trimmed = input.trim()
  if (trimmed.length > 20) return undefined
  if (isSeparatedPairs(trimmed)) return `${trimmed.toLowerCase().replaceAll('-', ':')}`
  let hex: string
  if (/^[0-9a-fA-F]{1,2}([:-][0-9a-fA-F]{1,2}){5}$/.test(trimmed)) {
    hex = trimmed
      .split(/[:-]/)
      .map((octet) => octet.padStart(2, '0'))
      .join('')
  } else if (/^[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}$/.test(trimmed)) {
    hex = trimmed.replaceAll('.', '')
  } else if (/^[0-9a-fA-F]{12}$/.test(trimmed)) {
    hex = trimmed
  } else {
    return undefined
  }
  return hex.toLowerCase().match(/../g)!.join(':')
}

/** `aa:bb:cc:dd:ee:ff` → `aa-bb-cc-dd-ee-ff` (pxelinux and seed 004 file names). */
export function macWithHyphens(mac: string): string {
  return mac.replaceAll(':', '-')
}

/** `aa:bb:cc:dd:ee:ff` → `aabbccddeeff`. */
export function macBare(mac: string): string {
  return mac.replaceAll(':', '')
}

/** The form every iPXE sends (`aa:bb:…` or `aa-bb-…`, two digits per octet), checked without a regex: it is on every /boot request. */
function isSeparatedPairs(s: string): boolean {
  if (s.length !== 17) return false
  for (let i = 0; i < 17; i++) {
    const c = s.charCodeAt(i)
    if (i % 3 === 2) {
      if (c !== 0x3a && c !== 0x2d) return false
    } else if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46))) return false
  }
  return true
}
