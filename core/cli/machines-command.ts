/**
 * bootpolicy machines | timeline <MAC> — clients of the running server's /api/machines (the server
 * holds the timeline in memory; the file under stateDir lags it by up to timeline.flushMs). Same
 * server and token rules as `bootpolicy intent` (intent-command.ts). Text output is terminal-safe:
 * every field came from the network.
 */
import type { Config } from '../config/config-types.js'
import { BootpolicyError } from '../errors/bp-error.js'
import { terminalSafe } from '../text/terminal-safe.js'
import { defaultServer } from './intent-command.js'

type Json = Record<string, unknown>

export async function machinesCommand(config: Config, command: 'machines' | 'timeline', positional: readonly string[], flags: Record<string, string | true>, format: 'text' | 'json'): Promise<number> {
  const server = typeof flags.server === 'string' ? flags.server.replace(/\/+$/, '') : defaultServer(config)
  const token = process.env.BOOTPOLICY_ADMIN_TOKEN || config.http.adminToken
  if (!token) throw usage('no admin token: set http.adminToken in the config or $BOOTPOLICY_ADMIN_TOKEN')
  const call = async (path: string): Promise<{ status: number; json: Json }> => {
    let res: Response
    try {
      res = await fetch(`${server}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(15_000) })
    } catch (cause) {
      throw new BootpolicyError('BP_ERR_CLI_USAGE', { details: `cannot reach the server at ${server} (is bootpolicy serve running? --server URL)` }, { cause })
    }
    return { status: res.status, json: (await res.json().catch(() => ({}))) as Json }
  }
  const fail = (r: { status: number; json: Json }): number => {
    process.stderr.write(`bootpolicy: ${terminalSafe(String(r.json.code ?? r.status))}: ${terminalSafe(String(r.json.message ?? 'request failed'))}\n`)
    return 1
  }
  if (command === 'machines') {
    if (positional.length > 0) throw usage('usage: bootpolicy machines [--format text|json]')
    const machines: Json[] = []
    let offset: unknown = 0
    while (typeof offset === 'number') {
      const r = await call(`/api/machines?limit=1000&offset=${offset}`)
      if (r.status >= 400) return fail(r)
      machines.push(...((r.json.machines ?? []) as Json[]))
      offset = r.json.nextOffset
    }
    process.stdout.write(format === 'json' ? `${JSON.stringify({ machines }, null, 2)}\n` : machinesText(machines))
    return 0
  }
  const [mac] = positional
  if (mac === undefined || positional.length > 1) throw usage('usage: bootpolicy timeline <MAC> [--format text|json]')
  const events: Json[] = []
  let machine: Json | undefined
  let after: unknown
  do {
    const r = await call(`/api/machines/${encodeURIComponent(mac)}/timeline?limit=1000${typeof after === 'number' ? `&after=${after}` : ''}`)
    if (r.status >= 400) return fail(r)
    machine = r.json.machine as Json
    events.push(...((r.json.events ?? []) as Json[]))
    after = r.json.next
  } while (typeof after === 'number')
  process.stdout.write(format === 'json' ? `${JSON.stringify({ machine, events }, null, 2)}\n` : timelineText(machine ?? {}, events))
  return 0
}

function usage(details: string): BootpolicyError {
  return new BootpolicyError('BP_ERR_CLI_USAGE', { details })
}

const iso = (ms: unknown): string => (typeof ms === 'number' ? new Date(ms).toISOString() : '-')

function machinesText(machines: Json[]): string {
  const lines = [`${machines.length} machine(s), most recently seen first:`]
  for (const m of machines) {
    const d = m.lastDecision as Json | undefined
    const decision = d ? `${d.kind} by ${d.decidedBy}${d.rev ? `@${d.rev}` : ''}` : '-'
    const intent = m.intent ? `intent ${(m.intent as Json).state}` : 'no intent'
    lines.push(`  ${m.id}  ${m.state}  last seen ${iso(m.lastSeen)}  ${decision}  ${intent}${m.ip ? `  ip ${m.ip}` : ''}${m.hostname ? `  ${m.hostname}` : ''}`)
  }
  return `${lines.map((l) => terminalSafe(l)).join('\n')}\n`
}

// What a reader looks for first; the rest follow by name. PostgreSQL's jsonb keeps no key order, so
// an order of its own is what makes the text the same on both state backends.
const LEADING_FIELDS = ['kind', 'decidedBy', 'rev', 'trace', 'summary', 'file', 'path', 'outcome', 'user', 'reason']

function orderedFields(fields: Json): [string, unknown][] {
  const rank = (k: string): number => {
    const i = LEADING_FIELDS.indexOf(k)
    return i === -1 ? LEADING_FIELDS.length : i
  }
  return Object.entries(fields).sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
}

function timelineText(machine: Json, events: Json[]): string {
  const lines = [`${machine.id} — ${machine.state}, first seen ${iso(machine.firstSeen)}, last seen ${iso(machine.lastSeen)}`]
  for (const e of events) {
    const fields = orderedFields((e.fields ?? {}) as Json)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')
    lines.push(`  ${iso(e.at)}  ${e.source} ${e.type}  ${fields}`)
  }
  return `${lines.map((l) => terminalSafe(l)).join('\n')}\n`
}
