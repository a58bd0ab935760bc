/**
 * bootpolicy intent set|clear|list — a client of the running server's /api/intents (the server
 * holds the intents; a second writer beside it would race it). It reaches the server at
 * http://<http.host>:<http.port> of the config (0.0.0.0 and :: as loopback) or --server URL, with
 * http.adminToken or $BOOTPOLICY_ADMIN_TOKEN.
 */
import { userInfo } from 'node:os'
import type { Config } from '../config/config-types.js'
import { BootpolicyError } from '../errors/bp-error.js'
import { terminalSafe } from '../text/terminal-safe.js'

export async function intentCommand(config: Config, positional: readonly string[], flags: Record<string, string | true>, format: 'text' | 'json'): Promise<number> {
  const [action, machine] = positional
  const server = typeof flags.server === 'string' ? flags.server.replace(/\/+$/, '') : defaultServer(config)
  const token = process.env.BOOTPOLICY_ADMIN_TOKEN || config.http.adminToken
  if (!token) throw usage('no admin token: set http.adminToken in the config or $BOOTPOLICY_ADMIN_TOKEN')
  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    let res: Response
    try {
      res = await fetch(`${server}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(15_000),
      })
    } catch (cause) {
      throw new BootpolicyError('BP_ERR_CLI_USAGE', { details: `cannot reach the server at ${server} (is bootpolicy serve running? --server URL)` }, { cause })
    }
    return { status: res.status, json: (await res.json().catch(() => ({}))) as Record<string, unknown> }
  }
  let result: { status: number; json: Record<string, unknown> }
  if (action === 'list' && machine === undefined) result = await call('GET', '/api/intents')
  else if (action === 'clear' && machine !== undefined) result = await call('DELETE', `/api/intents/${encodeURIComponent(machine)}`)
  else if (action === 'set' && machine !== undefined) result = await call('PUT', '/api/intents', setBody(machine, flags))
  else throw usage('usage: bootpolicy intent set <machine> --profile P|--decision JSON --expires 2h [--note TEXT] | clear <machine> | list')
  if (result.status >= 400) {
    process.stderr.write(`bootpolicy: ${terminalSafe(String(result.json.code ?? result.status))}: ${terminalSafe(String(result.json.message ?? 'request failed'))}\n`)
    return 1
  }
  if (format === 'json') process.stdout.write(`${JSON.stringify(result.json, null, 2)}\n`)
  else process.stdout.write(action === 'list' ? listText(result.json) : `${terminalSafe(lineOf((result.json.intent ?? result.json.ended) as Record<string, unknown>))}\n`)
  return 0
}

function usage(details: string): BootpolicyError {
  return new BootpolicyError('BP_ERR_CLI_USAGE', { details })
}

export function defaultServer(config: Config): string {
  const host = config.http.host === '0.0.0.0' || config.http.host === '::' ? '127.0.0.1' : config.http.host
  return `${config.http.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${config.http.port}`
}

function setBody(machine: string, flags: Record<string, string | true>): Record<string, unknown> {
  const body: Record<string, unknown> = { machine }
  if (typeof flags.profile === 'string') body.profile = flags.profile
  if (typeof flags.decision === 'string') {
    try {
      body.decision = JSON.parse(flags.decision)
    } catch {
      throw usage('--decision must be a JSON decision, e.g. \'{"kind":"exit"}\'')
    }
  }
  if (typeof flags.note === 'string') body.note = flags.note
  if (typeof flags.expires !== 'string') throw usage('--expires is required: 90s, 30m, 2h, 7d or an ISO 8601 date')
  const d = /^(\d{1,7})([smhd])$/.exec(flags.expires)
  if (d) body.expiresInS = Number(d[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[d[2] as 's' | 'm' | 'h' | 'd']
  else body.expiresAt = flags.expires
  const user = safeUser()
  if (user) body.setBy = user
  return body
}

function safeUser(): string | undefined {
  try {
    const name = userInfo().username
    return /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(name) ? name : undefined
  } catch {
    return undefined
  }
}

function lineOf(i: Record<string, unknown>): string {
  const target = i.profile !== undefined ? `profile ${i.profile}` : `decision ${JSON.stringify(i.decision)}`
  const end = i.outcome ? ` — ${i.outcome}: ${i.reason} (${i.endedAt})` : ` — ${i.state}, expires ${i.expiresAt}`
  const failure = i.failure ? ` — last failure: ${(i.failure as { reason: string }).reason}` : ''
  return `${i.machine} ${target}${end}${failure} — set by ${i.setBy} at ${i.setAt}${i.note ? ` — ${i.note}` : ''}`
}

function listText(json: Record<string, unknown>): string {
  const active = (json.active ?? []) as Record<string, unknown>[]
  const ended = (json.ended ?? []) as Record<string, unknown>[]
  const lines = [
    `armed (${active.length}):`,
    ...active.map((i) => `  ${lineOf(i)}`),
    `ended (newest ${Math.min(ended.length, 20)} of ${ended.length}):`,
    ...ended.slice(0, 20).map((i) => `  ${lineOf(i)}`),
  ]
  return `${lines.map(terminalSafe).join('\n')}\n`
}
