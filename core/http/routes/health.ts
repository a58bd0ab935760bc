/**
 * GET /healthz and GET /metrics. /healthz answers 200 with `status: ok` or `status: degraded` and
 * the problems: policy errors, policies serving a stale last good revision, templates that do not
 * compile, quarantined policies, and recent runtime failures (workers replaced, templates failing
 * to render, plugin hooks failing). With `?strict` (or `?strict=1`) a degraded server answers 503,
 * for load balancers and supervisors that only read the status code.
 */
import type { FastifyInstance } from 'fastify'
import type { Metrics } from '../../metrics/metrics.js'
import type { PolicySet } from '../../policy/policy-set.js'

export interface HealthReport {
  readonly status: 'ok' | 'degraded'
  readonly policies: readonly string[]
  readonly revision: string
  readonly stale: PolicySet['stale']
  readonly problems: readonly object[]
}

export function healthReport(policies: PolicySet, extraProblems: () => object[]): HealthReport {
  const stale = policies.stale
  const problems = [...policies.problems, ...stale.map((s) => ({ ...s, code: 'BPWRN009', message: `serving its last good revision ${s.revision} (since ${s.since})` })), ...extraProblems()]
  return { status: problems.length ? 'degraded' : 'ok', policies: policies.policies.map((p) => p.name), revision: policies.revision, stale, problems }
}

export function registerHealthRoutes(app: FastifyInstance, policies: PolicySet, metrics: Metrics, extraProblems: () => object[]): void {
  app.get('/healthz', async (req, reply) => {
    const report = healthReport(policies, extraProblems)
    // Read from the raw URL: the app does not parse queries (build-app.ts, querystringParser).
    const q = req.url.indexOf('?')
    const strict = q < 0 ? undefined : (new URLSearchParams(req.url.slice(q + 1)).get('strict') ?? undefined)
    // `?strict`, `?strict=1`, `?strict=true`; `?strict=0` and `?strict=false` mean off.
    const wantsStrict = strict !== undefined && strict !== '0' && strict !== 'false'
    if (wantsStrict && report.status === 'degraded') reply.code(503)
    return report
  })
  app.get('/metrics', async (_req, reply) => {
    const report = healthReport(policies, extraProblems)
    return reply.type('text/plain; version=0.0.4').send(metrics.render() + healthMetrics(report))
  })
}

/** Gauges of the health report, appended to the counters of Metrics. */
function healthMetrics(report: HealthReport): string {
  return [
    '# HELP bootpolicy_degraded 1 when /healthz reports problems, else 0',
    '# TYPE bootpolicy_degraded gauge',
    `bootpolicy_degraded ${report.status === 'degraded' ? 1 : 0}`,
    '# HELP bootpolicy_health_problems Problems /healthz reports',
    '# TYPE bootpolicy_health_problems gauge',
    `bootpolicy_health_problems ${report.problems.length}`,
    '# HELP bootpolicy_policies_stale Policies serving an older revision than their (broken) file',
    '# TYPE bootpolicy_policies_stale gauge',
    `bootpolicy_policies_stale ${report.stale.length}`,
    '',
  ].join('\n')
}
