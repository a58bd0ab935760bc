/**
 * /api/intents — arm, clear and list machine intents (docs/reference/intents.md). Admin token or operator session.
 * GET lists the armed intents and the newest 500 ended ones; PUT (or POST) arms one; DELETE
 * /api/intents/<machine> clears one. A thin translator over core/lifecycle.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { KindValidators } from '../../decision/validate-decision.js'
import { isBootpolicyError } from '../../errors/bp-error.js'
import type { Lifecycle } from '../../lifecycle/lifecycle.js'
import { intentView } from '../../lifecycle/intent-view.js'
import { parseIntentRequest, parseMachine } from '../../lifecycle/validate-intent.js'
import { type ApiAccess, requireCaller } from '../admin-auth.js'
import { sendError } from '../send-error.js'

export function registerIntentRoutes(app: FastifyInstance, lifecycle: Lifecycle, access: ApiAccess, kinds: KindValidators): void {
  app.get('/api/intents', async (req, reply) => {
    if (!requireCaller(req, reply, access)) return reply
    const { active, ended } = await lifecycle.list()
    return { active: active.map(intentView), ended: ended.map(intentView) }
  })

  const arm = async (req: FastifyRequest, reply: FastifyReply) => {
    const via = requireCaller(req, reply, access)
    if (!via) return reply
    try {
      const { intent, replaced } = await lifecycle.arm(parseIntentRequest(req.body, Date.now(), kinds), via)
      return reply.code(201).send({ intent: intentView(intent), ...(replaced && { replaced: intentView(replaced) }) })
    } catch (err) {
      if (isBootpolicyError(err)) return sendError(reply, err)
      throw err
    }
  }
  app.put('/api/intents', arm)
  app.post('/api/intents', arm)

  app.delete<{ Params: { machine: string } }>('/api/intents/:machine', async (req, reply) => {
    const via = requireCaller(req, reply, access)
    if (!via) return reply
    try {
      const ended = await lifecycle.clear(parseMachine(req.params.machine), via)
      return { ended: intentView(ended) }
    } catch (err) {
      if (isBootpolicyError(err)) return sendError(reply, err)
      throw err
    }
  })
}
