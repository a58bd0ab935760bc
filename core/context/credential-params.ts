/**
 * The one list of query parameter names that carry a login or a secret, and the checks built on
 * it. Both decode keys with the /boot decoder (parse-ipxe-query.ts), so a name spelled with
 * escapes (`%75sername`, iPXE's sign-extended `%FFFFFF70assword`) is the same name everywhere:
 * in the context builder, in the engine's "may this be memoized" check, in the log's URL redaction.
 */
import { decodeIpxeComponent, MAX_PARAMS } from './parse-ipxe-query.js'

/** Names that identify who logs in; a query carrying one is never memoized. */
const IDENTITY_NAMES = ['username', 'username_hex'] as const
/** Names whose values are secrets: never memoized, never logged. */
const SECRET_NAMES = ['password', 'password_hex', 'secret', 'chap_secret', 'chap-secret', 'chapsecret', 'chap_password', 'chap-password', 'chappassword', 'token'] as const

export const CREDENTIAL_PARAMS: ReadonlySet<string> = new Set([...IDENTITY_NAMES, ...SECRET_NAMES])
export const SECRET_PARAMS: ReadonlySet<string> = new Set(SECRET_NAMES)

/** Case-insensitive: `Password=` is no less a password to a log reader. */
export function isCredentialParam(name: string): boolean {
  return CREDENTIAL_PARAMS.has(name.toLowerCase())
}

export function isSecretParam(name: string): boolean {
  return SECRET_PARAMS.has(name.toLowerCase())
}

const MAY_NAME_CREDENTIALS = /username|password|secret|token|%/i

/** Fewer than MAX_PARAMS `&`-separated pairs (more count as carrying credentials). */
function fewPairs(query: string): boolean {
  let n = 1
  for (let at = query.indexOf('&'); at !== -1; at = query.indexOf('&', at + 1)) if (++n > MAX_PARAMS) return false
  return true
}

/** The decoded key of one `key=value` pair. */
export function decodedKey(pair: string): string {
  const eq = pair.indexOf('=')
  return decodeIpxeComponent(eq === -1 ? pair : pair.slice(0, eq))
}

/**
 * Whether a raw query string (without `?`) carries credentials, decoded as /boot decodes it.
 * A query too big to parse counts as carrying them (it is refused anyway; never memoized).
 */
export function queryHasCredentials(query: string): boolean {
  if (query === '') return false
  // Every credential name holds one of these words, and only an escape can spell one otherwise:
  // a query with neither (iPXE's bootstrap query) and few enough pairs carries none, unsplit.
  if (!MAY_NAME_CREDENTIALS.test(query) && fewPairs(query)) return false
  const pairs = query.split('&', MAX_PARAMS + 1)
  if (pairs.length > MAX_PARAMS) return true
  return pairs.some((pair) => pair !== '' && isCredentialParam(decodedKey(pair)))
}
