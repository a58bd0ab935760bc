/**
 * ldap: authenticate /boot logins against an LDAP directory (ldapts) and enrich requests with the
 * client's host entry found by MAC.
 *
 * - authenticate: simple bind with a DN template (`uid={username},ou=people,…`, RFC 4514
 *   escaping) or search-then-bind with a service account (filter with RFC 4515 escaping). The
 *   principal's groups come from the user's `memberOf` or a group search, read on the user's own
 *   bound connection. The principal's name is the entry's `principalAttribute` (default `uid`) as
 *   the directory spells it, never the username as typed (`ALICE` and `alice` are one principal).
 *   Empty passwords are refused before any bind (an "unauthenticated bind" succeeds on many servers).
 * - enrich: `ctx.plugins.ldap.host` — the attributes of the entry whose MAC matches, cached (LRU
 *   with TTL). Group lists are cached by user DN too. Passwords and bind results are never cached.
 * - TLS: ldaps:// URLs, or StartTLS; `tls.caFile` and `tls.rejectUnauthorized` (default true).
 *
 * A directory that is down is an error (logged with plugin and hook); the request is still
 * answered: the login reads "authentication service unavailable", the host slot stays empty.
 */
import { readFileSync } from 'node:fs'
import type { ConnectionOptions } from 'node:tls'
import { LRUCache } from 'lru-cache'
import { Client, InvalidCredentialsError, type Entry } from 'ldapts'
import { USERNAME_PATTERN, type AuthResult, type BootContext, type BootpolicyPlugin, type Credentials, type PluginApi } from 'bootpolicy/plugin'
import { errors } from './errors.js'
import { escapeDnValue, escapeFilterValue, fillTemplate } from './escape.js'

export interface LdapOptions {
  url: string
  startTls?: boolean
  tls?: { caFile?: string; rejectUnauthorized?: boolean }
  timeoutMs?: number
  connectTimeoutMs?: number
  /** Simple bind: the user's DN, `{username}` escaped per RFC 4514. */
  bindDn?: string
  /** Search-then-bind: find the user's DN first (with the service account, or anonymously). */
  userSearch?: { base: string; filter?: string; scope?: 'sub' | 'one' }
  serviceAccount?: { dn: string; password?: string; passwordFile?: string }
  groups?: { from?: 'memberOf' | 'search' | 'none'; base?: string; filter?: string; attribute?: string }
  /** The entry's attribute that names the principal (default `uid`): `ALICE` and `alice` are one user. */
  principalAttribute?: string
  hosts?: { base: string; filter?: string; scope?: 'sub' | 'one'; attributes?: string[] }
  cache?: { ttlMs?: number; max?: number }
}

const scope = { type: 'string', enum: ['sub', 'one'], default: 'sub' } as const

export const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  oneOf: [{ required: ['bindDn'] }, { required: ['userSearch'] }],
  properties: {
    url: { type: 'string', pattern: '^ldaps?://[^/?#]+/?$' },
    startTls: { type: 'boolean', default: false },
    tls: {
      type: 'object',
      additionalProperties: false,
      properties: { caFile: { type: 'string' }, rejectUnauthorized: { type: 'boolean', default: true } },
      default: {},
    },
    timeoutMs: { type: 'integer', minimum: 100, maximum: 60000, default: 3000 },
    connectTimeoutMs: { type: 'integer', minimum: 100, maximum: 60000, default: 2000 },
    bindDn: { type: 'string', pattern: '\\{username\\}' },
    userSearch: {
      type: 'object',
      additionalProperties: false,
      required: ['base'],
      properties: { base: { type: 'string' }, filter: { type: 'string', pattern: '\\{username\\}', default: '(uid={username})' }, scope },
    },
    serviceAccount: {
      type: 'object',
      additionalProperties: false,
      required: ['dn'],
      properties: { dn: { type: 'string' }, password: { type: 'string' }, passwordFile: { type: 'string' } },
    },
    groups: {
      type: 'object',
      additionalProperties: false,
      properties: {
        from: { type: 'string', enum: ['memberOf', 'search', 'none'], default: 'memberOf' },
        base: { type: 'string' },
        filter: { type: 'string', default: '(member={dn})' },
        attribute: { type: 'string', default: 'cn' },
      },
      default: {},
    },
    principalAttribute: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9-]*$', default: 'uid' },
    hosts: {
      type: 'object',
      additionalProperties: false,
      required: ['base'],
      properties: {
        base: { type: 'string' },
        filter: { type: 'string', pattern: '\\{mac\\}', default: '(&(objectClass=ieee802Device)(macAddress={mac}))' },
        scope,
        attributes: { type: 'array', items: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9-]*$' }, default: ['cn', 'description', 'l', 'serialNumber'] },
      },
    },
    cache: {
      type: 'object',
      additionalProperties: false,
      properties: { ttlMs: { type: 'integer', minimum: 0, default: 60000 }, max: { type: 'integer', minimum: 1, default: 1000 } },
      default: {},
    },
  },
} as const

const REFUSED = 'unknown user or wrong password'

/** The facts this plugin puts into ctx.plugins.ldap. */
export type LdapFacts = {
  /** The host entry matching the client's MAC: its DN and the configured attributes (single values unwrapped). */
  host?: { dn: string } & Record<string, string | string[]>
}

declare module 'bootpolicy/policy' {
  interface PluginFacts {
    ldap: LdapFacts
  }
}

/** Errors that mean the directory could not be reached or answered, not that the user is wrong. */
function unavailable(url: string, err: unknown): Error {
  const e = err as { message?: string; code?: unknown }
  return new Error(`LDAP server ${url} unavailable: ${e.message ?? String(err)}${typeof e.code === 'string' ? ` (${e.code})` : ''}`, { cause: err })
}

function firstValues(entry: Entry, attributes: readonly string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const name of attributes) {
    const key = Object.keys(entry).find((k) => k.toLowerCase() === name.toLowerCase())
    const raw = key ? entry[key] : undefined
    if (raw === undefined) continue
    const values = (Array.isArray(raw) ? raw : [raw]).map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)))
    out[name] = values.length === 1 ? values[0]! : values
  }
  return out
}

/** `cn=lab,ou=groups,…` → `lab` (the first RDN's value, unescaped enough for plain names). */
function rdnValue(dn: string): string {
  const m = /^[^=]+=((?:\\.|[^,])*)/.exec(dn)
  return (m?.[1] ?? dn).replace(/\\(.)/g, '$1')
}

export default function ldap(options: LdapOptions): BootpolicyPlugin {
  let log: PluginApi['logger']
  let tlsOptions: ConnectionOptions = {}
  let servicePassword: string | undefined
  // Host facts by MAC and group lists by user DN; never passwords, never bind outcomes.
  let hostCache: LRUCache<string, { facts: LdapFacts['host'] | null }>
  let groupCache: LRUCache<string, string[]>
  const o = options

  function client(): Client {
    return new Client({
      url: o.url,
      timeout: o.timeoutMs ?? 3000,
      connectTimeout: o.connectTimeoutMs ?? 2000,
      ...(o.url.startsWith('ldaps:') && { tlsOptions }),
    })
  }

  /** A connected client (StartTLS done when configured); the caller binds and unbinds. */
  async function open(): Promise<Client> {
    const c = client()
    if (o.startTls) {
      try {
        await c.startTLS({ ...tlsOptions, host: new URL(o.url).hostname.replace(/^\[|\]$/g, '') })
      } catch (err) {
        await c.unbind().catch(() => undefined)
        throw unavailable(o.url, err)
      }
    }
    return c
  }

  async function close(c: Client): Promise<void> {
    await c.unbind().catch(() => undefined)
  }

  /** As the service account (or anonymous without one). */
  async function withService<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    const c = await open()
    try {
      if (o.serviceAccount) await c.bind(o.serviceAccount.dn, servicePassword ?? '')
      return await fn(c)
    } catch (err) {
      throw unavailable(o.url, err)
    } finally {
      await close(c)
    }
  }

  async function findUserDn(username: string): Promise<string | undefined> {
    const s = o.userSearch!
    const filter = fillTemplate(s.filter ?? '(uid={username})', { username }, escapeFilterValue)
    const { searchEntries } = await withService((c) => c.search(s.base, { scope: s.scope ?? 'sub', filter, attributes: ['1.1'], sizeLimit: 2 }))
    if (searchEntries.length > 1) throw new Error(`LDAP user search for one username matched ${searchEntries.length} entries; make the filter unique`)
    return searchEntries[0]?.dn
  }

  /**
   * The principal's name as the directory spells it (the entry's `principalAttribute`), read on
   * the user's own bound connection; of several values, the one the user typed (ignoring case).
   */
  async function principalName(c: Client, dn: string, typed: string): Promise<string | undefined> {
    const attribute = o.principalAttribute ?? 'uid'
    const { searchEntries } = await c.search(dn, { scope: 'base', attributes: [attribute] })
    const v = searchEntries[0] ? firstValues(searchEntries[0], [attribute])[attribute] : undefined
    const values = v === undefined ? [] : Array.isArray(v) ? v : [v]
    const name = values.find((x) => x.toLowerCase() === typed.toLowerCase()) ?? values[0]
    return name !== undefined && USERNAME_PATTERN.test(name) ? name : undefined
  }

  async function groupsOf(c: Client, dn: string): Promise<string[]> {
    const g = o.groups ?? {}
    const from = g.from ?? 'memberOf'
    if (from === 'none') return []
    const cached = groupCache.get(dn)
    if (cached) return cached
    let groups: string[]
    if (from === 'memberOf') {
      const { searchEntries } = await c.search(dn, { scope: 'base', attributes: ['memberOf'] })
      const raw = searchEntries[0]?.memberOf
      groups = (raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]).map((v) => rdnValue(String(v)))
    } else {
      const filter = fillTemplate(g.filter ?? '(member={dn})', { dn }, escapeFilterValue)
      const attribute = g.attribute ?? 'cn'
      const { searchEntries } = await c.search(g.base!, { scope: 'sub', filter, attributes: [attribute] })
      groups = searchEntries.flatMap((e) => {
        const v = firstValues(e, [attribute])[attribute]
        return v === undefined ? [] : Array.isArray(v) ? v : [v]
      })
    }
    groups.sort()
    groupCache.set(dn, groups)
    return groups
  }

  return {
    name: 'ldap',
    version: '0.1.0',
    bootpolicy: '^0.1.0',
    schema,
    errors,
    async setup(api) {
      log = api.logger
      if (o.groups?.from === 'search' && !o.groups.base) throw new Error('groups.from "search" needs groups.base')
      tlsOptions = {
        rejectUnauthorized: o.tls?.rejectUnauthorized ?? true,
        ...(o.tls?.caFile && { ca: [readFileSync(o.tls.caFile)] }),
      }
      if (tlsOptions.rejectUnauthorized === false)
        log.warn({ code: 'BPSEC_LDAP_TLS_UNVERIFIED' }, 'BPSEC_LDAP_TLS_UNVERIFIED ldap: tls.rejectUnauthorized is false: the directory is not authenticated')
      if (o.url.startsWith('ldap:') && !o.startTls) log.warn({ url: o.url }, 'ldap: passwords go to the directory in clear text; use ldaps:// or startTls')
      if (o.serviceAccount) {
        servicePassword = o.serviceAccount.passwordFile ? readFileSync(o.serviceAccount.passwordFile, 'utf8').trim() : o.serviceAccount.password
      }
      const ttl = o.cache?.ttlMs ?? 60000
      const max = o.cache?.max ?? 1000
      hostCache = new LRUCache({ max, ...(ttl > 0 && { ttl }) })
      groupCache = new LRUCache({ max, ...(ttl > 0 && { ttl }) })
    },
    hooks: {
      async enrich(ctx: BootContext): Promise<LdapFacts | undefined> {
        if (!o.hosts || !ctx.mac) return undefined
        const hosts = o.hosts
        const hit = hostCache.get(ctx.mac)
        if (hit) return hit.facts ? { host: hit.facts } : {}
        const filter = fillTemplate(hosts.filter ?? '(&(objectClass=ieee802Device)(macAddress={mac}))', { mac: ctx.mac }, escapeFilterValue)
        const attributes = hosts.attributes ?? ['cn', 'description', 'l', 'serialNumber']
        const { searchEntries } = await withService((c) => c.search(hosts.base, { scope: hosts.scope ?? 'sub', filter, attributes, sizeLimit: 2 }))
        const entry = searchEntries[0]
        const facts = entry ? { dn: entry.dn, ...firstValues(entry, attributes) } : null
        hostCache.set(ctx.mac, { facts })
        return facts ? { host: facts } : {}
      },

      async authenticate(_ctx: BootContext, credentials: Credentials): Promise<AuthResult> {
        const { username, password } = credentials
        if (!USERNAME_PATTERN.test(username)) return { failed: REFUSED }
        // An empty password is an "unauthenticated bind": it succeeds without checking anything.
        if (password === '') return { failed: REFUSED }
        const dn = o.bindDn ? fillTemplate(o.bindDn, { username }, escapeDnValue) : await findUserDn(username)
        // Not in the directory: another backend may know the name.
        if (!dn) return undefined
        const c = await open()
        try {
          try {
            await c.bind(dn, password)
          } catch (err) {
            if (err instanceof InvalidCredentialsError) return { failed: REFUSED }
            throw unavailable(o.url, err)
          }
          let name: string | undefined
          try {
            name = await principalName(c, dn, username)
          } catch (err) {
            throw unavailable(o.url, err)
          }
          // A configuration fault, not the user's: an error (an outage to the limiter), never a login.
          if (name === undefined) throw new Error(`LDAP entry ${dn} has no usable ${o.principalAttribute ?? 'uid'} to name the principal`)
          let groups: string[] = []
          try {
            groups = await groupsOf(c, dn)
          } catch (err) {
            log.warn({ err: { message: (err as Error).message } }, 'ldap: could not read the groups of an authenticated user')
          }
          return { principal: { name, groups, source: 'ldap' } }
        } finally {
          await close(c)
        }
      },
    },
  }
}
