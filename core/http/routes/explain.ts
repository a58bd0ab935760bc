/**
 * POST /api/explain — what would this client get, and why. Admin only: off unless
 * http.adminToken is set; the token is compared in constant time.
 * Body: the /boot query as an object of wire names (`{"mac": "…", "buildarch": "x86_64"}`).
 * A dry run: plugins' `prepare` side effects do not happen and no cached response is used.
 */
import { timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { Engine } from '../../engine/engine.js'
import { toQuery } from '../../context/to-query.js'
import { droppedReason } from '../../context/dropped-reasons.js'
import { BootpolicyError } from '../../errors/bp-error.js'
import { sendError } from '../send-error.js'

export function registerExplainRoute(app: FastifyInstance, engine: Engine, adminToken: string | undefined): void {
  app.post('/api/explain', async (req, reply) => {
    if (!adminToken) return sendError(reply, new BootpolicyError('BP_ERR_HTTP_DISABLED'))
    if (!tokenMatches(req.headers.authorization, adminToken)) return sendError(reply, new BootpolicyError('BP_ERR_HTTP_UNAUTHORIZED'))
    const body = req.body
    if (typeof body !== 'object' || body === null || Array.isArray(body) || Object.values(body).some((v) => typeof v !== 'string')) {
      return sendError(reply, new BootpolicyError('BP_ERR_HTTP_BAD_REQUEST', { details: 'expected a JSON object of strings' }))
    }
    const result = await engine.handle({ query: toQuery(body as Record<string, string>), remoteAddress: req.ip, requestId: req.id, dryRun: true })
    const dropped = result.record.context.dropped.map((field) => ({ field, reason: droppedReason(field) }))
    return { script: result.script, decision: result.decision, record: result.record, dropped }
  })
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? '')
  if (!m) return false
  const given = Buffer.from(m[1]!)
  const expected = Buffer.from(token)
  return given.length === expected.length && timingSafeEqual(given, expected)
}
