/**
 * The decision engine: raw request in, iPXE script and decision record out. It knows no HTTP
 * and no plugin by name. Every failure ends in a valid `#!ipxe` script (the configured default,
 * prefixed with what went wrong and the request id), never in a stack trace.
 */
import type { Logger } from 'pino'
import { buildContext, deepFreeze } from '../context/build-context.js'
import { parseIpxeQuery } from '../context/parse-ipxe-query.js'
import { queryHasCredentials } from '../context/credential-params.js'
import type { BootContext } from '../context/types.js'
import type { Decision } from '../decision/types.js'
import type { IntentFacts } from '../lifecycle/intent-types.js'
import { validateDecision } from '../decision/validate-decision.js'
import { BootpolicyError, isBootpolicyError, messageOf } from '../errors/bp-error.js'
import { renderDecision, type RenderEnv } from '../ipxe/render-decision.js'
import { IpxeScript } from '../ipxe/script-builder.js'
import type { PolicySet } from '../policy/policy-set.js'
import type { TemplateStore } from '../templates/template-store.js'
import { DecisionCache, type BodySource } from './decision-cache.js'
import type { DecisionRecord, PolicyStep } from './decision-record.js'
import { summarizeDecision } from './decision-summary.js'
import { PolicyRunner, type PolicyExecutor, type PolicyRunnerOptions } from './policy-runner.js'
import type { HookTrace, RequestHooks } from './request-hooks.js'
import { StateOutageReport, stateFailsafeScript, stateRetryWait } from './state-failsafe.js'
import { isStateUnavailable } from '../state/state-unavailable.js'

export interface EngineOptions extends PolicyRunnerOptions {
  readonly policies: PolicySet
  /** Where the policy chain runs (the worker pool). */
  readonly executor: PolicyExecutor
  readonly templates: TemplateStore
  readonly hooks: RequestHooks
  /** Served when no policy or plugin decides, and after a failure. */
  readonly defaultDecision: Decision
  readonly bootPath: string
  readonly logger: Logger
  /** Machine intents (core/lifecycle): `ctx.intent`, and the installer token bound into the script. */
  readonly intents?: IntentSource
  /** Boots refused because shared state is unreachable: counted and logged once per outage (state-failsafe.ts). */
  readonly stateOutage?: StateOutageReport
}

/** What the engine needs of core/lifecycle (lifecycle.ts implements it). */
export interface IntentSource {
  intentFor(ctx: BootContext): Promise<IntentFacts | undefined>
  /** Changes with every intent change: part of the whole-response cache key. */
  revision(): string
  /** The finished script with the token placeholder replaced (a fresh token under an intent). */
  bindToken(script: string, ctx: BootContext): Promise<string>
}

export interface BootRequest {
  /** The raw query string, without `?`. */
  readonly query: string
  readonly remoteAddress: string
  readonly requestId: string
  /** Explain: no `prepare` side effects, no response cache. */
  readonly dryRun?: boolean
}

export interface BootResponse {
  readonly statusCode: 200 | 400
  readonly script: string
  readonly record: DecisionRecord
  /** The decision that was rendered (for explain); undefined when the request was unreadable. */
  readonly decision?: Decision
}

export class Engine {
  private readonly runner: PolicyRunner
  private readonly outage: StateOutageReport
  /** Whole responses, contexts, rendered bodies (decision-cache.ts). */
  readonly cache: DecisionCache

  constructor(private readonly options: EngineOptions) {
    const defaultCheck = validateDecision(options.defaultDecision, options.hooks.kindValidators)
    if (!defaultCheck.ok) {
      throw new BootpolicyError('BP_ERR_CONFIG_INVALID', { details: `default: ${defaultCheck.problems.join('; ')}` })
    }
    this.runner = new PolicyRunner(options.policies, options.executor, options.hooks.kindValidators, options)
    this.outage = options.stateOutage ?? new StateOutageReport(options.logger)
    this.cache = new DecisionCache({ size: options.cacheSize, ttlMs: options.cacheTtlMs, wholeResponses: options.hooks.cacheable })
  }

  async handle(req: BootRequest): Promise<BootResponse> {
    const t0 = performance.now()
    const { hooks } = this.options
    // Decoded as /boot decodes it: `%75sername=` is a username, and such an answer is never memoized.
    const withCredentials = queryHasCredentials(req.query)
    const intents = this.options.intents
    const revisions = { policies: this.options.policies.revision, plugins: intents ? `${hooks.revision()}\nintents:${intents.revision()}` : hooks.revision() }
    const key = this.cache.responseKey(revisions, req.remoteAddress, req.query, { dryRun: req.dryRun, withCredentials })
    const hit = this.cache.response(key)
    if (hit && (await this.stillValid(hit))) {
      const record = { ...hit.record, reqId: req.requestId, cached: true, cpuUs: 0, wallUs: Math.round((performance.now() - t0) * 1000) }
      hooks.onResponse(record)
      return { ...hit, script: withRequestId(await this.bindToken(hit.script, hit.record.context, req), req.requestId), record }
    }
    const { response, cacheable } = await this.compute(req, t0, withCredentials)
    if (cacheable) this.cache.keepResponse(key, response)
    return { ...response, script: withRequestId(await this.bindToken(response.script, response.record.context, req), req.requestId, withCredentials) }
  }

  /** After every cache: the installer token is bound per response, never memoized (lifecycle.ts). */
  private async bindToken(script: string, ctx: BootContext, req: BootRequest): Promise<string> {
    if (!this.options.intents || req.dryRun) return script
    try {
      return await this.options.intents.bindToken(script, ctx)
    } catch (err) {
      const e = asError(err)
      if (isStateUnavailable(e)) return this.stateFailsafe(req, ctx, e)
      this.options.logger.error({ reqId: req.requestId, err: e }, 'installer token could not be issued')
      return this.failsafe(ctx, shortReason(e))
    }
  }

  /** Side effects run on every request: a cached response stands only if prepare keeps its decision. */
  private async stillValid(hit: BootResponse): Promise<boolean> {
    if (!this.options.hooks.hasPrepare) return true
    try {
      return (await this.options.hooks.prepare(hit.record.context, hit.decision!, [])) === hit.decision
    } catch {
      return false // the full path runs prepare again and serves the failsafe with the error
    }
  }

  /** The full path; `cacheable` when the answer may be memoized whole (no error, no template, decision kept by prepare). */
  private async compute(req: BootRequest, t0: number, withCredentials: boolean): Promise<{ response: BootResponse; cacheable: boolean }> {
    const { hooks } = this.options
    const hookTrace: HookTrace[] = []
    let ctx: BootContext
    let credentials
    try {
      const built = this.cache.context(req.remoteAddress, req.query, withCredentials, () => buildContext({ query: parseIpxeQuery(req.query), remoteAddress: req.remoteAddress }))
      ctx = built.context
      credentials = built.credentials
    } catch (err) {
      const error = asError(err)
      const context = deepFreeze(emptyContext(req.remoteAddress))
      const record = this.record(req, context, [], hookTrace, 'failsafe', this.options.defaultDecision.kind, false, 0, t0, error)
      return { response: { statusCode: 400, script: this.failsafe(context, error.message), record }, cacheable: false }
    }
    if (ctx.dropped.length) this.options.logger.warn({ code: 'BPWRN001', reqId: req.requestId, fields: ctx.dropped }, 'dropped malformed context fields')

    let steps: readonly PolicyStep[] = []
    let decidedBy = 'default'
    let cached = false
    let cpuUs = 0
    let decision: Decision | undefined
    let error: BootpolicyError | undefined
    let runKey: string | undefined
    try {
      const intent = await this.intentFor(ctx)
      if (intent) ctx = deepFreeze(intent === UNAVAILABLE ? { ...ctx, unavailable: ['intent'] } : { ...ctx, intent })
      await hooks.onRequest(ctx, hookTrace)
      const facts = await hooks.enrich(ctx, hookTrace)
      if (Object.keys(facts).length) ctx = deepFreeze({ ...ctx, plugins: facts })
      if (credentials) {
        const auth = await hooks.authenticate(ctx, credentials, hookTrace)
        ctx = deepFreeze({ ...ctx, auth })
      }
      credentials = undefined // nothing past this point may see the password

      const run = await this.runner.run(ctx, req.dryRun)
      runKey = run.key
      ;({ steps, cpuUs } = run.outcome)
      cached = run.cached
      error = run.outcome.error
      decision = run.outcome.decision
      if (decision) decidedBy = run.outcome.decidedBy!
      if (!decision && !error) {
        const fromPlugin = await hooks.decide(ctx, hookTrace)
        if (fromPlugin) {
          decision = fromPlugin.decision
          decidedBy = `plugin:${fromPlugin.plugin}`
        }
      }
      // Expected for sites whose default is the answer (seed 003's `exit`): debug, not warn.
      if (!decision && !error) this.options.logger.debug({ code: 'BPWRN003', reqId: req.requestId }, 'no policy decided; serving the default decision')
    } catch (err) {
      error = asError(err)
    }

    if (error && isStateUnavailable(error)) {
      const record = this.record(req, ctx, steps, hookTrace, 'failsafe', 'state-unavailable', cached, cpuUs, t0, error)
      return { response: { statusCode: 200, script: this.stateFailsafe(req, ctx, error), record }, cacheable: false }
    }
    if (error) {
      const record = this.record(req, ctx, steps, hookTrace, 'failsafe', this.options.defaultDecision.kind, cached, cpuUs, t0, error)
      // Deterministic policy failures are memoized by the runner; the response is not cached whole.
      return { response: { statusCode: 200, script: this.failsafe(ctx, shortReason(error)), record, decision: this.options.defaultDecision }, cacheable: false }
    }
    const chosen = decision ?? this.options.defaultDecision
    try {
      const prepared = req.dryRun ? chosen : await hooks.prepare(ctx, chosen, hookTrace)
      // A body can be reused only for the very decision object the memoized outcome holds (or the
      // default): a decision a plugin's prepare replaced may carry fresh secrets.
      const which: BodySource = prepared === decision && decidedBy.startsWith('policy:') ? 'policy' : prepared === this.options.defaultDecision ? 'default' : undefined
      // Templates are files that may change under a running server: rendered each time (decision-cache.ts).
      const script = this.cache.body(prepared, which, runKey, () => this.render(prepared, ctx))
      const record = this.record(req, ctx, steps, hookTrace, decidedBy, prepared.kind, cached, cpuUs, t0, undefined, prepared)
      return { response: { statusCode: 200, script, record, decision: prepared }, cacheable: prepared === chosen && prepared.kind !== 'template' && this.options.hooks.cacheable && !ctx.intent }
    } catch (err) {
      const e = asError(err)
      if (isStateUnavailable(e)) {
        const record = this.record(req, ctx, steps, hookTrace, 'failsafe', 'state-unavailable', cached, cpuUs, t0, e)
        return { response: { statusCode: 200, script: this.stateFailsafe(req, ctx, e), record }, cacheable: false }
      }
      const record = this.record(req, ctx, steps, hookTrace, 'failsafe', this.options.defaultDecision.kind, cached, cpuUs, t0, e)
      return { response: { statusCode: 200, script: this.failsafe(ctx, shortReason(e)), record, decision: this.options.defaultDecision }, cacheable: false }
    }
  }

  /** The script body; its `${bp-req}` references are bound by `withRequestId`. */
  render(decision: Decision, ctx: BootContext): string {
    if (decision.kind === 'template') {
      const d = decision as { name: string; vars?: Record<string, unknown> }
      return this.options.templates.render(d.name, { ctx, vars: d.vars ?? {}, requestId: '${bp-req}' })
    }
    const env: RenderEnv = { context: ctx, bootPath: this.options.bootPath, kinds: this.options.hooks.kindRenderers }
    return renderDecision(decision, env)
  }

  /**
   * The machine's intent; with the intents unreadable (state unavailable), UNAVAILABLE: policies
   * still run, and one that reads `ctx.intent` fails closed in its sandbox (isolate-wrapper.ts).
   */
  private async intentFor(ctx: BootContext): Promise<IntentFacts | typeof UNAVAILABLE | undefined> {
    try {
      return await this.options.intents?.intentFor(ctx)
    } catch (err) {
      if (isStateUnavailable(err)) return UNAVAILABLE
      throw err
    }
  }

  /** The retry script of state-failsafe.ts, never the default (which may be the wrong decision). */
  private stateFailsafe(req: BootRequest, ctx: BootContext, err: BootpolicyError): string {
    this.outage.refused(req.requestId, err)
    return stateFailsafeScript(ctx, this.options.bootPath, stateRetryWait())
  }

  /** The configured default, preceded by a line saying what went wrong. */
  private failsafe(ctx: BootContext, reason: string): string {
    const head = new IpxeScript()
    head.command('echo', head.text(`bootpolicy: ${reason}`), '(request', '${bp-req})')
    let body: string
    try {
      body = this.render(this.options.defaultDecision, ctx)
    } catch {
      body = '#!ipxe\nexit 1\n'
    }
    return head.toString() + body.replace(/^#!ipxe\n/, '')
  }

  private record(
    req: BootRequest,
    context: BootContext,
    policies: readonly PolicyStep[],
    plugins: HookTrace[],
    decidedBy: string,
    kind: string,
    cached: boolean,
    cpuUs: number,
    t0: number,
    error?: BootpolicyError,
    decision?: Decision,
  ): DecisionRecord {
    const record: DecisionRecord = {
      reqId: req.requestId,
      context,
      policies,
      plugins,
      decidedBy,
      kind,
      summary: summarizeDecision(decision ?? this.options.defaultDecision),
      cached,
      ...(error && { error: { code: error.code, message: error.message } }),
      cpuUs,
      wallUs: Math.round((performance.now() - t0) * 1000),
    }
    this.options.hooks.onResponse(record)
    return record
  }
}

/**
 * Bind the request id: `set bp-req <id>` right after `#!ipxe` (ids are hex, or a fixed word).
 * After a request that carried credentials, iPXE still holds the user's real password in its
 * `username`/`password` settings, which its iSCSI driver would send as CHAP and write into the
 * iBFT: they are cleared first thing (a plugin that wants CHAP sets them later in the script).
 */
export function withRequestId(script: string, requestId: string, clearCredentials = false): string {
  const id = /^[A-Za-z0-9_-]{1,32}$/.test(requestId) ? requestId : 'invalid'
  const nl = script.indexOf('\n')
  const clear = clearCredentials ? 'clear username\nclear password\n' : ''
  return `${script.slice(0, nl + 1)}set bp-req ${id}\n${clear}${script.slice(nl + 1)}`
}

const UNAVAILABLE = Symbol('intents unavailable')

function asError(err: unknown): BootpolicyError {
  if (isBootpolicyError(err)) return err
  return new BootpolicyError('BP_ERR_PLUGIN_HOOK', { plugin: 'unknown', hook: 'unknown', details: messageOf(err) }, { cause: err })
}

/** What the client is told: the code, never a stack or a backend's message. */
function shortReason(err: BootpolicyError): string {
  return `${err.code}`
}

function emptyContext(remoteAddress: string): BootContext {
  return { arch: 'unknown', remoteAddress, params: {}, auth: { status: 'none' }, plugins: {}, dropped: [] }
}
