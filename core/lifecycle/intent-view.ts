/**
 * An intent as the API and `bootpolicy intent list` show it: dates in ISO 8601, the token only as
 * "issued to which machine, when" (never its hash).
 */
import type { EndedIntent, IntentRecord } from './intent-types.js'
import { machineKeyText } from './intent-types.js'

export function intentView(r: IntentRecord | EndedIntent): Record<string, unknown> {
  const iso = (t: number) => new Date(t).toISOString()
  const token = 'token' in r && r.token ? { tokenIssuedAt: iso(r.token.issuedAt), tokenIssuedTo: r.token.mac ?? r.token.uuid } : {}
  return {
    id: r.id,
    machine: machineKeyText(r.machine),
    ...r.target,
    note: r.note,
    state: 'outcome' in r ? 'ended' : r.state,
    expiresAt: iso(r.expiresAt),
    setBy: r.setBy,
    setAt: iso(r.setAt),
    tokensIssued: r.tokensIssued,
    ...token,
    ...(r.failure && { failure: { reason: r.failure.reason, at: iso(r.failure.at), ...(r.failure.log !== undefined && { log: r.failure.log }) } }),
    ...('outcome' in r && { outcome: r.outcome, reason: r.reason, endedAt: iso(r.endedAt), endedBy: r.endedBy }),
  }
}
