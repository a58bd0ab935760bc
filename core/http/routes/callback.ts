/**
 * POST /api/callback/built and /api/callback/failed — what an installed system says when it is
 * done (docs/reference/intents.md#installer-callbacks). No admin token: the installer token is the
 * credential, valid once, only together with the MAC (or UUID) of the machine it was issued to.
 * Bodies are JSON or a form (`wget --post-data`, `curl -d`): token, mac or uuid, reason, log.
 */
import type { FastifyInstance } from 'fastify'
import { normalizeMac } from '../../context/normalize-mac.js'
import { normalizeUuid } from '../../context/normalize-uuid.js'
import { BootpolicyError, isBootpolicyError } from '../../errors/bp-error.js'
import { isTokenText } from '../../lifecycle/intent-token.js'
import { intentView } from '../../lifecycle/intent-view.js'
import type { Lifecycle } from '../../lifecycle/lifecycle.js'
import { sendError } from '../send-error.js'

export const MAX_REASON = 200
export const MAX_LOG = 4096
const FORM_LIMIT = 16 * 1024

function bad(details: string): BootpolicyError {
  return new BootpolicyError('BP_ERR_CALLBACK_BAD_REQUEST', { details })
}

export async function registerCallbackRoutes(app: FastifyInstance, lifecycle: Lifecycle): Promise<void> {
  await app.register(async (scope) => {
    // Forms only here: no other route takes one.
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_LIMIT }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)))
    })
    scope.post<{ Params: { outcome: string } }>('/api/callback/:outcome', async (req, reply) => {
      try {
        const outcome = req.params.outcome
        if (outcome !== 'built' && outcome !== 'failed') throw bad('the outcome is "built" or "failed"')
        const b = req.body
        if (typeof b !== 'object' || b === null || Array.isArray(b)) throw bad('expected a JSON object or a form')
        const f = b as Record<string, unknown>
        if (!isTokenText(f.token)) throw bad('token must be the 40 hex digits the boot carried')
        const mac = typeof f.mac === 'string' ? normalizeMac(f.mac) : undefined
        const uuid = typeof f.uuid === 'string' ? normalizeUuid(f.uuid) : undefined
        if (!mac && !uuid) throw bad("give the machine's mac (or uuid)")
        // An empty reason (`reason=` from a shell variable left unset) is no reason.
        const reason = f.reason === undefined || f.reason === '' ? (outcome === 'built' ? 'installer reported built' : 'installer reported a failure') : f.reason
        if (typeof reason !== 'string' || reason.length > MAX_REASON) throw bad(`reason must be text of at most ${MAX_REASON} characters`)
        if (f.log !== undefined && (typeof f.log !== 'string' || f.log.length > MAX_LOG)) throw bad(`log must be text of at most ${MAX_LOG} characters`)
        const result = await lifecycle.callback({ ...(mac && { mac }), ...(uuid && { uuid }) }, f.token, {
          outcome,
          reason: reason.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' '),
          ...(typeof f.log === 'string' && { log: f.log }),
        })
        return { outcome: result.outcome, intent: intentView(result.intent) }
      } catch (err) {
        if (isBootpolicyError(err)) return sendError(reply, err)
        throw err
      }
    })
  })
}
