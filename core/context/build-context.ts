/**
 * Raw /boot request → frozen BootContext + credentials kept apart.
 * Malformed fields are dropped (and named in `dropped`); the request goes on without them.
 */
import type { Arch, AuthState, BootContext, Credentials } from './types.js'
import { markSealed } from './deep-freeze.js'
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
const TEXT_ENTRIES = Object.entries(TEXT_FIELDS)
/** `<name>_hex` wire names, built once (not per request). */
const HEX_NAME: Readonly<Record<string, string>> = Object.fromEntries(['username', 'password', 'hostname', ...Object.keys(TEXT_FIELDS)].map((f) => [f, `${f}_hex`]))

/** Plain value, or the decoded `<name>_hex` variant when present (hex wins: it is lossless). */
function textOf(q: ReadonlyMap<string, string>, name: string, dropped: string[]): string | undefined {
  const hexName = HEX_NAME[name]!
  const hex = q.get(hexName)
  if (hex !== undefined) {
    const bytes = decodeHexSetting(hex)
    if (bytes) return bytes.length === 0 ? '' : utf8.decode(bytes)
    dropped.push(hexName)
  }
  return q.get(name)
}

/** `clean(value)`; a null verdict names the field in `dropped`. */
function take<T>(name: string, value: string | undefined, clean: (v: string) => T | undefined | null, dropped: string[]): T | undefined {
  if (value === undefined) return undefined
  const result = clean(value)
  if (result === null) {
    dropped.push(name)
    return undefined
  }
  return result
}

const cleanMac = (v: string) => (v.trim() === '' ? undefined : (normalizeMac(v) ?? null))
const cleanUuid = (v: string) => (v.trim() === '' ? undefined : (normalizeUuid(v) ?? null))
const cleanUserClass = (v: string) => cleanText(v, 64)

// The /boot hot loop (issue 12): module-level helpers instead of per-request closures, the
// context's fields set in one fixed order (one object shape: the same JSON key order as always),
// frozen part by part instead of by a generic walk.
export function buildContext(raw: RawBootRequest): BuiltContext {
  const q = raw.query
  const dropped: string[] = []

  const mac = take('mac', q.get('mac'), cleanMac, dropped)
  const uuid = take('uuid', q.get('uuid'), cleanUuid, dropped)
  const buildarch = take('buildarch', q.get('buildarch'), cleanToken, dropped)
  const platform = take('platform', q.get('platform'), cleanToken, dropped)
  const arch = resolveArch(q, buildarch, platform, dropped)

  const text: Record<string, string | undefined> = {}
  for (const [field, max] of TEXT_ENTRIES) {
    text[field] = take(field, textOf(q, field, dropped), (v) => cleanText(v, max), dropped)
  }
  const userClass = text['user-class'] ?? take('userclass', q.get('userclass'), cleanUserClass, dropped)
  const hostname = take('hostname', textOf(q, 'hostname', dropped), cleanHostname, dropped)
  const ip = take('ip', q.get('ip'), cleanIpv4, dropped)

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

  const credentials = readCredentials(q, dropped)

  // Typed field by field (a misspelled or mistyped field fails tsc); the required ones are set below.
  const c: { -readonly [K in keyof BootContext]?: BootContext[K] } = {}
  if (mac) c.mac = mac
  if (uuid) c.uuid = uuid
  c.arch = arch
  if (buildarch) c.buildarch = buildarch
  if (platform) c.platform = platform
  if (userClass) c.userClass = userClass
  if (text.serial) c.serial = text.serial
  if (text.manufacturer) c.manufacturer = text.manufacturer
  if (text.product) c.product = text.product
  if (text.asset) c.asset = text.asset
  if (hostname) c.hostname = hostname
  if (ip) c.ip = ip
  c.remoteAddress = raw.remoteAddress
  // The parts most requests share are one sealed constant each, and only the new objects are
  // marked: every mark is a WeakSet entry, which cost ~0.7 µs each on the cold path (its GC included).
  const auth = credentials ? Object.freeze<AuthState>({ status: 'failed', username: credentials.username, reason: 'not verified' }) : AUTH_NONE
  const droppedOnce = dropped.length ? Object.freeze([...new Set(dropped)]) : NONE_DROPPED
  const frozenParams = hasOwnKey(params) ? Object.freeze(params) : NO_PARAMS
  c.params = frozenParams
  c.auth = auth
  c.plugins = NO_FACTS
  c.dropped = droppedOnce
  const context = Object.freeze(c) as BootContext
  // Plain strings throughout, frozen here: its JSON text may be memoized (deep-freeze.ts).
  markSealed(context)
  if (frozenParams !== NO_PARAMS) markSealed(frozenParams)
  if (auth !== AUTH_NONE) markSealed(auth)
  if (droppedOnce !== NONE_DROPPED) markSealed(droppedOnce)
  return { context, credentials, dropped: context.dropped }
}

const AUTH_NONE: AuthState = Object.freeze({ status: 'none' })
const NO_FACTS = Object.freeze({})
const NONE_DROPPED: readonly string[] = Object.freeze([])
const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({})
markSealed(AUTH_NONE, NO_FACTS, NONE_DROPPED, NO_PARAMS)

function hasOwnKey(o: object): boolean {
  for (const _ in o) return true
  return false
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

function readCredentials(q: ReadonlyMap<string, string>, dropped: string[]): Credentials | undefined {
  const username = textOf(q, 'username', dropped)
  const password = textOf(q, 'password', dropped)
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

export { deepFreeze } from './deep-freeze.js'
