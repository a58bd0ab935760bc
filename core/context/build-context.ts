/**
 * Raw /boot request → frozen BootContext + credentials kept apart.
 * Malformed fields are dropped (and named in `dropped`); the request goes on without them.
 */
import type { Arch, BootContext, Credentials } from './types.js'
import { normalizeMac } from './normalize-mac.js'
import { normalizeUuid } from './normalize-uuid.js'
import { archFromIpxe, archFromOption93, isArch } from './normalize-arch.js'
import { decodeHexSetting } from './parse-ipxe-query.js'
import { CREDENTIAL_PARAMS, isCredentialParam } from './credential-params.js'
import { cleanHostname, cleanIpv4, cleanText, cleanToken, MAX_PARAM_VALUE, MAX_PASSWORD_BYTES, PARAM_NAME_PATTERN, USERNAME_PATTERN } from './text-fields.js'

/** Text fields the bootstrap sends hex-encoded (`serial_hex=41:42`) to survive iPXE's URL quirks. */
const TEXT_FIELDS = {
  serial: 128,
  manufacturer: 128,
  product: 128,
  asset: 128,
  'user-class': 64,
} as const

/** Wire names that are identity or credentials (credential-params.ts), never admin params. */
export const RESERVED_PARAMS: ReadonlySet<string> = new Set([
  'mac',
  'uuid',
  'buildarch',
  'platform',
  'arch',
  'arch93',
  'ip',
  'hostname',
  'userclass',
  'user-class',
  'serial',
  'manufacturer',
  'product',
  'asset',
  ...['serial', 'manufacturer', 'product', 'asset', 'hostname', 'user-class'].map((f) => `${f}_hex`),
  ...CREDENTIAL_PARAMS,
])

export interface RawBootRequest {
  readonly query: ReadonlyMap<string, string>
  readonly remoteAddress: string
}

export interface BuiltContext {
  readonly context: BootContext
  readonly credentials: Credentials | undefined
  /** Wire names of fields that were present but malformed. */
  readonly dropped: readonly string[]
}

const utf8 = new TextDecoder('utf-8', { fatal: false })

export function buildContext(raw: RawBootRequest): BuiltContext {
  const q = raw.query
  const dropped: string[] = []

  /** Plain value, or the decoded `<name>_hex` variant when present (hex wins: it is lossless). */
  const textOf = (name: string): string | undefined => {
    const hex = q.get(`${name}_hex`)
    if (hex !== undefined) {
      const bytes = decodeHexSetting(hex)
      if (bytes) return utf8.decode(bytes)
      dropped.push(`${name}_hex`)
    }
    return q.get(name)
  }

  function take<T>(name: string, value: string | undefined, clean: (v: string) => T | undefined | null): T | undefined {
    if (value === undefined) return undefined
    const result = clean(value)
    if (result === null) {
      dropped.push(name)
      return undefined
    }
    return result
  }

  const mac = take('mac', q.get('mac'), (v) => (v.trim() === '' ? undefined : (normalizeMac(v) ?? null)))
  const uuid = take('uuid', q.get('uuid'), (v) => (v.trim() === '' ? undefined : (normalizeUuid(v) ?? null)))
  const buildarch = take('buildarch', q.get('buildarch'), (v) => cleanToken(v))
  const platform = take('platform', q.get('platform'), (v) => cleanToken(v))
  const arch = resolveArch(q, buildarch, platform, dropped)

  const text: Record<string, string | undefined> = {}
  for (const [field, max] of Object.entries(TEXT_FIELDS)) {
    text[field] = take(field, textOf(field), (v) => cleanText(v, max))
  }
  const userClass = text['user-class'] ?? take('userclass', q.get('userclass'), (v) => cleanText(v, 64))
  const hostname = take('hostname', textOf('hostname'), cleanHostname)
  const ip = take('ip', q.get('ip'), cleanIpv4)

  const params: Record<string, string> = {}
  for (const [rawKey, rawValue] of q) {
    if (RESERVED_PARAMS.has(rawKey) || isCredentialParam(rawKey)) continue
    // `again()`/`login()` send values outside [A-Za-z0-9._~-] as `<name>_hex` (see identity-query.ts).
    const isHex = rawKey.endsWith('_hex')
    const key = isHex ? rawKey.slice(0, -4) : rawKey
    if (!PARAM_NAME_PATTERN.test(key) || RESERVED_PARAMS.has(key)) {
      dropped.push('params')
      continue
    }
    let value: string | undefined = rawValue
    if (isHex) {
      const bytes = decodeHexSetting(rawValue)
      value = bytes ? utf8.decode(bytes) : undefined
    }
    const clean = value === undefined ? null : cleanText(value, MAX_PARAM_VALUE)
    if (clean === null) dropped.push(key)
    else if (clean !== undefined && !(key in params && !isHex)) params[key] = clean
  }

  const credentials = readCredentials(textOf, dropped)

  const context: BootContext = deepFreeze({
    ...(mac && { mac }),
    ...(uuid && { uuid }),
    arch,
    ...(buildarch && { buildarch }),
    ...(platform && { platform }),
    ...(userClass && { userClass }),
    ...(text.serial && { serial: text.serial }),
    ...(text.manufacturer && { manufacturer: text.manufacturer }),
    ...(text.product && { product: text.product }),
    ...(text.asset && { asset: text.asset }),
    ...(hostname && { hostname }),
    ...(ip && { ip }),
    remoteAddress: raw.remoteAddress,
    params,
    auth: credentials ? { status: 'failed', username: credentials.username, reason: 'not verified' } : { status: 'none' },
    plugins: {},
    dropped: [...new Set(dropped)],
  })
  return { context, credentials, dropped: context.dropped }
}

function resolveArch(q: ReadonlyMap<string, string>, buildarch: string | undefined, platform: string | undefined, dropped: string[]): Arch {
  const explicit = q.get('arch')
  if (explicit !== undefined && explicit !== '') {
    if (isArch(explicit)) return explicit
    dropped.push('arch')
  }
  const fromIpxe = archFromIpxe(buildarch, platform)
  if (fromIpxe !== 'unknown') return fromIpxe
  const code = q.get('arch93')
  if (code !== undefined && code !== '') {
    if (/^\d{1,5}$/.test(code)) return archFromOption93(Number(code))
    dropped.push('arch93')
  }
  return 'unknown'
}

function readCredentials(textOf: (name: string) => string | undefined, dropped: string[]): Credentials | undefined {
  const username = textOf('username')
  const password = textOf('password')
  // Not registered with the log scrubber here: anybody can send a password, and only the plugin
  // host, once the login limiter admits the attempt, hands it to a backend (plugin-host.ts).
  if (username === undefined || username === '') return undefined
  if (!USERNAME_PATTERN.test(username)) {
    dropped.push('username')
    return undefined
  }
  if (password === undefined || Buffer.byteLength(password) > MAX_PASSWORD_BYTES || password.includes('\u0000')) {
    dropped.push('password')
    return undefined
  }
  return { username, password }
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value as object)) deepFreeze(v)
  }
  return value
}
