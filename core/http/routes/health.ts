/** GET /healthz and GET /metrics. */
import type { FastifyInstance } from 'fastify'
import type { Metrics } from '../../metrics/metrics.js'
import type { PolicySet } from '../../policy/policy-set.js'

export function registerHealthRoutes(app: FastifyInstance, policies: PolicySet, metrics: Metrics, extraProblems: () => object[]): void {
  app.get('/healthz', async () => {
    const problems = [...policies.problems, ...extraProblems()]
    return {
      status: problems.length ? 'degraded' : 'ok',
      policies: policies.policies.map((p) => p.name),
      revision: policies.revision,
      problems,
    }
  })
  app.get('/metrics', async (_req, reply) => reply.type('text/plain; version=0.0.4').send(metrics.render()))
}
