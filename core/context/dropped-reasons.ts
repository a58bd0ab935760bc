/**
 * Why build-context.ts drops a field, by the wire name it records in ctx.dropped: for explain,
 * which shows each dropped field with its reason. The context itself keeps only the names (a
 * policy reads them; the reasons are for the admin).
 */
import { MAX_PARAM_VALUE, MAX_PASSWORD_BYTES } from './text-fields.js'

const REASONS: Readonly<Record<string, string>> = {
  mac: 'not a MAC address (12 hex digits, separated by : or - or not at all)',
  uuid: 'not a UUID',
  buildarch: 'not a token of letters, digits and _ (at most 16)',
  platform: 'not a token of letters, digits and _ (at most 16)',
  arch: 'not a known architecture name (e.g. x86_64-efi)',
  arch93: 'not a DHCP option 93 number',
  hostname: 'not an RFC 1123 host name',
  ip: 'not a dotted IPv4 address',
  username: 'not a valid username (letters, digits, . _ @ -, at most 64); the login was ignored',
  password: `empty, longer than ${MAX_PASSWORD_BYTES} bytes, or holds a NUL byte; the login was ignored`,
  params: 'a parameter name outside [a-z][a-z0-9_-]{0,31}, or a reserved wire name',
}

const TEXT = new Set(['serial', 'manufacturer', 'product', 'asset', 'user-class', 'userclass'])

export function droppedReason(field: string): string {
  const known = REASONS[field]
  if (known) return known
  if (field.endsWith('_hex')) return 'not valid hex (pairs of hex digits separated by :)'
  if (TEXT.has(field)) return 'too long, or holds control characters or invalid UTF-8'
  return `a parameter value longer than ${MAX_PARAM_VALUE} characters, or with control characters or invalid UTF-8`
}
