/**
 * Timeline events of the HTTP boot path: the /boot.ipxe bootstrap and each /boot decision (kind,
 * deciding policy and its revision, and the policy trace in one short line), and the login a /boot
 * carried (user and outcome). Built from the
 * decision record, whose context never holds credentials.
 */
import type { DecisionRecord } from '../engine/decision-record.js'
import type { Timeline } from './timeline.js'

export function recordBootstrap(timeline: Timeline, remoteAddress: string): void {
  timeline.record({ ip: remoteAddress }, 'http', 'bootstrap', { path: '/boot.ipxe' })
}

export function recordDecision(timeline: Timeline, record: DecisionRecord): void {
  const ctx = record.context
  timeline.learnIp(ctx.remoteAddress, ctx.mac)
  // A login: who and how it went, never the password (the context never holds it).
  if (ctx.auth.status !== 'none') timeline.record({ mac: ctx.mac, ip: ctx.remoteAddress }, 'login', ctx.auth.status, { user: ctx.auth.username, reason: ctx.auth.reason })
  const decider = record.decidedBy.startsWith('policy:') ? record.policies.find((p) => `policy:${p.policy}` === record.decidedBy) : undefined
  const trace = record.policies.map((p) => `${p.policy}:${p.outcome}${p.code ? `(${p.code})` : ''}`).join(' ')
  timeline.record(
    { mac: ctx.mac, ip: ctx.remoteAddress },
    'http',
    'decision',
    {
      kind: record.kind,
      decidedBy: record.decidedBy,
      rev: decider?.rev,
      trace,
      summary: record.summary,
      arch: ctx.arch,
      cached: record.cached,
      intent: ctx.intent?.id,
      error: record.error?.code,
      reqId: record.reqId,
    },
    (s) => {
      s.lastDecision = { kind: record.kind, decidedBy: record.decidedBy, ...(decider?.rev && { rev: decider.rev }), at: timeline.time() }
      if (ctx.uuid) s.uuid = ctx.uuid
      if (ctx.hostname) s.hostname = ctx.hostname.slice(0, 64)
      s.arch = ctx.arch
    },
  )
}
