/** GET /boot.ipxe (the bootstrap) and GET /boot (the decision). */
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { DecisionRecord } from '../../engine/decision-record.js'
import type { Engine } from '../../engine/engine.js'
import { BOOTSTRAP_QUERY } from '../../ipxe/identity-query.js'
import { logDecision } from '../../log/decision-line.js'
import type { Metrics } from '../../metrics/metrics.js'
import { recordBootstrap, recordDecision } from '../../timeline/record-boot.js'
import type { Timeline } from '../../timeline/timeline.js'

export function bootstrapScript(bootPath: string): string {
  return [
    '#!ipxe',
    // A relative URL: iPXE resolves it against this script's URL, so HTTP and HTTPS both work.
    `chain --replace --autofree ${bootPath}?${BOOTSTRAP_QUERY} || goto bp_failed`,
    ':bp_failed',
    'echo bootpolicy: cannot reach the boot server, trying the next boot device',
    'sleep 5',
    'exit 1',
    '',
  ].join('\n')
}

/** `decisions`: where each decision record is also stored (the PostgreSQL event store), never awaited. */
export function registerBootRoutes(
  app: FastifyInstance,
  engine: Engine,
  bootPath: string,
  metrics: Metrics,
  timeline?: Timeline,
  decisions?: { decision(record: DecisionRecord, text?: string): void },
): void {
  const bootstrap = bootstrapScript(bootPath)
  app.get(`${bootPath}.ipxe`, async (req, reply) => {
    if (timeline) recordBootstrap(timeline, req.ip)
    return reply.type('text/plain; charset=utf-8').header('Cache-Control', 'no-store').send(bootstrap)
  })

  app.get(bootPath, async (req, reply) => {
    const t0 = performance.now()
    const q = req.url.indexOf('?')
    const response = await engine.handle({
      query: q === -1 ? '' : req.url.slice(q + 1),
      remoteAddress: req.ip,
      requestId: req.id,
    })
    const { record } = response
    metrics.decisions.inc({ kind: record.kind, decided_by: record.decidedBy })
    if (record.cached) metrics.cacheHits.inc()
    for (const step of record.policies) {
      if (step.outcome === 'error') metrics.policyErrors.inc({ policy: step.policy, code: step.code ?? 'unknown' })
    }
    metrics.latency.observe((performance.now() - t0) / 1000)
    if (timeline) recordDecision(timeline, record)
    // One compact line per request, written in the background (decision-line.ts, logger.ts).
    const text = logDecision(req.log as unknown as Logger, record.error ? 'warn' : 'info', record)
    decisions?.decision(record, text)
    return reply.code(response.statusCode).type('text/plain; charset=utf-8').header('Cache-Control', 'no-store').send(response.script)
  })
}
