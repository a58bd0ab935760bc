/**
 * Runs the policies in order over a context: the first decision wins. Pure with respect to the
 * context and the policy revision, so outcomes are memoized in an LRU keyed by both; a policy
 * that loops on some input costs its timeout once per distinct input, not once per request.
 * The cache lives on this (the main) thread: a cached outcome never hops threads. A miss sends
 * the context as JSON to a policy worker (one hop for the whole chain) and gets strings back; the
 * worker has validated the decision except its plugin kinds (split-validation.ts), so this thread
 * only parses it and runs the plugins' validators on their parts.
 */
import { LRUCache } from 'lru-cache'
import { deepFreeze } from '../context/build-context.js'
import { frozenJson } from '../context/frozen-json.js'
import type { BootContext } from '../context/types.js'
import type { Decision } from '../decision/types.js'
import { validatePluginParts } from '../decision/split-validation.js'
import type { KindValidator } from '../decision/validate-decision.js'
import { BootpolicyError } from '../errors/bp-error.js'
import type { PolicySet } from '../policy/policy-set.js'
import { decodeChain, type ChainStep } from '../policy/worker-protocol.js'
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

/** Runs the chain from policy `from` on a context given as JSON; resolves with worker-protocol's encoding. */
export interface PolicyExecutor {
  /** `trace`: collect the policies' print() lines (explain). */
  run(ctxJson: string, from?: number, trace?: boolean): Promise<string>
}

export interface RunResult {
  readonly outcome: PolicyOutcome
  readonly cached: boolean
  readonly key: string | undefined
}

/** Decisions up to this size are memoized by their JSON text (many clients get the same menu). */
const MEMO_MAX_CHARS = 16 * 1024

type Checked = { readonly ok: true; readonly decision: Decision } | { readonly ok: false; readonly problems: readonly string[] }

export class PolicyRunner {
  private readonly cache: LRUCache<string, PolicyOutcome> | undefined
  /** Parsed and validated decisions by their JSON text: the same text is the same verdict. Small: a
   * few menus serve most clients, and every kept entry of a one-off text is old-space garbage. */
  private readonly checked = new LRUCache<string, Checked>({ max: 64 })

  constructor(
    private readonly policies: PolicySet,
    private readonly executor: PolicyExecutor,
    private readonly kinds: ReadonlyMap<string, KindValidator>,
    private readonly options: PolicyRunnerOptions,
  ) {
    this.cache = options.cacheSize > 0 ? new LRUCache({ max: options.cacheSize, ttl: options.cacheTtlMs || undefined }) : undefined
  }

  /** `key` identifies (revision, context) while caching is on; other memos reuse it. A hit returns synchronously. */
  /** `trace` (explain): a fresh run that collects print() lines; it neither reads nor fills the memo. */
  run(ctx: BootContext, trace = false): RunResult | Promise<RunResult> {
    const json = this.serialize(ctx)
    const key = this.cache ? `${this.policies.revision}\n${json}` : undefined
    const hit = key === undefined || trace ? undefined : this.cache!.get(key)
    if (hit) return { outcome: hit, cached: true, key }
    if (this.policies.policies.length === 0) return { outcome: { steps: [], cpuUs: 0 }, cached: false, key }
    return this.evaluate(json, trace).then((outcome) => {
      if (key !== undefined && !trace) this.cache!.set(key, outcome)
      return { outcome, cached: false, key }
    })
  }

  private async evaluate(json: string, trace: boolean): Promise<PolicyOutcome> {
    const steps: PolicyStep[] = []
    let cpuNs = 0
    let from = 0
    for (;;) {
      const { meta, decisionJson } = decodeChain(await this.executor.run(json, from, trace))
      cpuNs += meta.cpuNs
      let error: BootpolicyError | undefined
      for (const s of meta.steps) {
        if (s.o === 'error') {
          const e = new BootpolicyError(s.code!, s.params)
          error ??= e
          steps.push({ policy: s.p, outcome: 'error', code: e.code, message: e.message, us: s.us, ...extras(s) })
        } else if (s.o === 'passed') steps.push({ policy: s.p, outcome: 'passed', us: s.us, ...extras(s) })
      }
      const cpuUs = Math.round(cpuNs / 1000)
      // A policy that needs unreachable state stops the chain under either onError (policy-worker.ts).
      if (meta.decided < 0) return error && (this.options.onError === 'failsafe' || error.code === 'BP_ERR_STATE_UNAVAILABLE') ? { steps, error, cpuUs } : { steps, cpuUs }
      const last = meta.steps[meta.steps.length - 1]!
      const name = last.p
      const us = last.us
      const checked = this.check(decisionJson!, meta.plugins)
      if (checked.ok) {
        steps.push({ policy: name, outcome: 'decided', us, ...extras(last) })
        return { decision: checked.decision, decidedBy: `policy:${name}`, steps, cpuUs }
      }
      const bad = new BootpolicyError('BP_ERR_POLICY_BAD_DECISION', { policy: name, details: checked.problems.slice(0, 5).join('; ') })
      steps.push({ policy: name, outcome: 'error', code: bad.code, message: bad.message, us, ...extras(last) })
      if (this.options.onError === 'failsafe') return { steps, error: bad, cpuUs }
      from = meta.decided + 1 // `next`: the rest of the chain, one more hop
      if (from >= this.policies.policies.length) return { steps, cpuUs }
    }
  }

  /** A memoized context (engine.ts) is serialized once, and the decision log reuses the text (frozen-json.ts). */
  private serialize(ctx: BootContext): string {
    return frozenJson(ctx)
  }

  /** `json` was validated by the worker except the plugin-kind parts at `plugins`. */
  private check(json: string, plugins: readonly string[] | undefined): Checked {
    const memo = json.length <= MEMO_MAX_CHARS ? this.checked.get(json) : undefined
    if (memo) return memo
    const result: unknown = JSON.parse(json)
    const problems = plugins ? validatePluginParts(result, plugins, this.kinds) : []
    // Frozen: one decision object may now serve many requests.
    const checked: Checked = problems.length === 0 ? { ok: true, decision: deepFreeze(result as Decision) } : { ok: false, problems }
    if (json.length <= MEMO_MAX_CHARS) this.checked.set(json, checked)
    return checked
  }
}

/** A step's revision and print() lines, as the worker reported them. */
function extras(s: ChainStep): { rev?: string; prints?: readonly string[] } {
  return { ...(s.h && { rev: s.h }), ...(s.pr && { prints: s.pr }) }
}
