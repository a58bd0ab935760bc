/**
 * Runs the policies in order over a context: the first decision wins. Pure with respect to the
 * context and the policy revision, so outcomes are memoized in an LRU keyed by both; a policy
 * that loops on some input costs its timeout once per distinct input, not once per request.
 */
import { LRUCache } from 'lru-cache'
import type { BootContext } from '../context/types.js'
import type { Decision } from '../decision/types.js'
import { validateDecision, type KindValidator } from '../decision/validate-decision.js'
import { BootpolicyError, messageOf } from '../errors/bp-error.js'
import type { PolicySet } from '../policy/policy-set.js'
import type { PolicyStep } from './decision-record.js'

export interface PolicyOutcome {
  readonly decision?: Decision
  readonly decidedBy?: string
  readonly steps: readonly PolicyStep[]
  /** The first error, when policies.onError is `failsafe` and a policy failed. */
  readonly error?: BootpolicyError
  readonly cpuUs: number
}

export interface PolicyRunnerOptions {
  readonly onError: 'failsafe' | 'next'
  readonly cacheSize: number
  readonly cacheTtlMs: number
}

export class PolicyRunner {
  private readonly cache: LRUCache<string, PolicyOutcome> | undefined

  constructor(
    private readonly policies: PolicySet,
    private readonly kinds: ReadonlyMap<string, KindValidator>,
    private readonly options: PolicyRunnerOptions,
  ) {
    this.cache = options.cacheSize > 0 ? new LRUCache({ max: options.cacheSize, ttl: options.cacheTtlMs || undefined }) : undefined
  }

  /** `key` identifies (revision, context) while caching is on; other memos reuse it. */
  run(ctx: BootContext): { outcome: PolicyOutcome; cached: boolean; key: string | undefined } {
    const key = this.cache ? `${this.policies.revision}\n${JSON.stringify(ctx)}` : undefined
    const hit = key === undefined ? undefined : this.cache!.get(key)
    if (hit) return { outcome: hit, cached: true, key }
    const outcome = this.evaluate(ctx)
    if (key !== undefined) this.cache!.set(key, outcome)
    return { outcome, cached: false, key }
  }

  private evaluate(ctx: BootContext): PolicyOutcome {
    const steps: PolicyStep[] = []
    let cpuNs = 0n
    for (const sandbox of this.policies.policies) {
      const name = sandbox.policy.name
      const cpu0 = sandbox.cpuTimeNs()
      const t0 = performance.now()
      let result: unknown
      let error: BootpolicyError | undefined
      try {
        result = sandbox.run(ctx)
        if (result !== undefined && result !== null) {
          const checked = validateDecision(result, this.kinds)
          if (!checked.ok) {
            error = new BootpolicyError('BP_ERR_POLICY_BAD_DECISION', { policy: name, details: checked.problems.slice(0, 5).join('; ') })
          }
        }
      } catch (err) {
        error = err instanceof BootpolicyError ? err : new BootpolicyError('BP_ERR_POLICY_THREW', { policy: name, location: name, details: messageOf(err) }, { cause: err })
      }
      const us = Math.round((performance.now() - t0) * 1000)
      const spent = sandbox.cpuTimeNs() - cpu0
      if (spent > 0n) cpuNs += spent // an isolate rebuilt after a memory bomb restarts its clock
      const cpuUs = Number(cpuNs / 1000n)
      if (error) {
        steps.push({ policy: name, outcome: 'error', code: error.code, message: error.message, us })
        if (this.options.onError === 'failsafe') return { steps, error, cpuUs }
        continue
      }
      if (result === undefined || result === null) {
        steps.push({ policy: name, outcome: 'passed', us })
        continue
      }
      steps.push({ policy: name, outcome: 'decided', us })
      return { decision: result as Decision, decidedBy: `policy:${name}`, steps, cpuUs }
    }
    return { steps, cpuUs: Number(cpuNs / 1000n) }
  }
}
