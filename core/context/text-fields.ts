/** Validators for free-text identity fields. Each returns the clean value, or undefined to drop it. */

// C0/C1 controls and DEL: they have no place in an identity and could move a terminal's cursor.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

/** SMBIOS-style text (serial, product, …): trimmed, no control characters, bounded. */
export function cleanText(value: string, maxLength: number): string | undefined | null {
  const v = value.trim()
  if (v === '') return undefined
  if (v.length > maxLength || CONTROL.test(v) || v.includes('\ufffd')) return null
  return v
}

/** RFC 1123 host name (one label or dotted). */
export function cleanHostname(value: string): string | undefined | null {
  const v = value.trim()
  if (v === '') return undefined
  if (v.length > 253) return null
  const ok = v.split('.').every((label) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label))
  return ok ? v : null
}

export function cleanIpv4(value: string): string | undefined | null {
  const v = value.trim()
  if (v === '' || v === '0.0.0.0') return undefined
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(v)
  if (!m || m.slice(1).some((o) => Number(o) > 255 || (o.length > 1 && o.startsWith('0')))) return null
  return v
}

/** A short identifier such as ${buildarch}: lower-case letters, digits, `_`. */
export function cleanToken(value: string, maxLength = 16): string | undefined | null {
  const v = value.trim()
  if (v === '') return undefined
  return v.length <= maxLength && /^[A-Za-z0-9_]+$/.test(v) ? v : null
}

/**
 * Usernames: letters, digits, `.`, `_`, `-` and `@` (Kerberos realms), starting with a letter or
 * digit or `_`, at most 64 characters. The set keeps names safe in IQNs, file names and LDAP filters.
 */
export const USERNAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._@-]{0,63}$/

/** Admin-defined round-trip parameters (`instance`, …): names and values. */
export const PARAM_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/
export const MAX_PARAM_VALUE = 128
export const MAX_PASSWORD_BYTES = 256
