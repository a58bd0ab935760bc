/**
 * Canonical MAC form: six lower-case hex octets joined by colons.
 * Accepts colon, hyphen, dot (Cisco `aabb.ccdd.eeff`) and bare hex, any case.
 * Returns undefined for anything that is not exactly 6 octets.
 */
export function normalizeMac(input: string): string | undefined {
  const trimmed = input.trim()
  if (trimmed.length > 20) return undefined
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
