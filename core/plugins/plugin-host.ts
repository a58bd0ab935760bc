/**
 * The plugin host: runs the hooks of the loaded plugins with the combination rule of each hook
 * (see PluginHooks), a time limit per call, and containment — a failing plugin is logged with
 * `plugin` and `hook`, the request is still answered. What plugins contribute besides hooks
 * (decision kinds, helpers, error codes, commands) is the registry's (plugin-registry.ts).
 */
import { isStateUnavailable, stateUnavailable } from '../state/state-unavailable.js'
import type { Logger } from 'pino'
import type { AuthState, BootContext, Credentials } from '../context/types.js'
import { holdRequestSecret } from '../log/secret-registry.js'
import { LoginLimiter, limitedReason, type LimitVerdict, type LoginAttempt, type LoginLimits } from '../auth/login-limiter.js'
import type { SharedLoginLimiter } from '../auth/shared-login-limiter.js'
import type { Decision } from '../decision/types.js'
import { validateDecision, type KindValidator } from '../decision/validate-decision.js'
import { BootpolicyError, messageOf } from '../errors/bp-error.js'
import type { HookTrace, RequestHooks } from '../engine/request-hooks.js'
import type { KindRenderer } from '../ipxe/render-decision.js'
import type { DhcpClientFacts, BootOverride } from '../dhcp/dhcp-service.js'
import { PluginRegistry } from './plugin-registry.js'
import type { AuthResult, BootpolicyPlugin, HookName, HookSpec, PluginHooks, TransferClient } from './types.js'

type Handler<K extends HookName> = Extract<NonNullable<PluginHooks[K]>, (...args: never[]) => unknown>

interface Bound<K extends HookName> {
  readonly plugin: string
  readonly handler: Handler<K>
  readonly kinds?: readonly string[]
}

/** Every decision kind in a decision, menu actions included. */
export function decisionKinds(decision: Decision, out = new Set<string>()): Set<string> {
  out.add(decision.kind)
  if (decision.kind === 'menu') {
    for (const entry of (decision as { items: readonly unknown[] }).items) {
      const action = (entry as { action?: Decision }).action
      if (action) decisionKinds(action, out)
    }
  }
  return out
}

/** An authenticate phase's outcome; `failure` says why it failed (absent when authenticated). */
export interface LoginOutcome {
  readonly auth: AuthState
  readonly failure?: 'refused' | 'limited' | 'unavailable'
  /** With `limited`: seconds until the limited key may try again. */
  readonly retryInS?: number
  /** With `unavailable`: the shared state (the login limits) could not be reached. */
  readonly stateError?: unknown
}

export interface PluginHostOptions {
  readonly hookTimeoutMs: number
  readonly logger: Logger
  /** Failed-login limits per user and per client address (defaults: 5 / 20 per 5 min). */
  readonly loginLimits?: Partial<LoginLimits>
  /** Told of every failed or timed-out hook (for /healthz); no error text, which may carry a secret. */
  readonly onHookFailure?: (info: { plugin: string; hook: string; code: string }) => void
  /** The registry loadPlugins already built over these plugins (see PluginRegistry.over); default: built here. */
  readonly registry?: PluginRegistry
  /** Limits shared by every replica (PostgreSQL state backend); the local limiter still runs first. */
  readonly sharedLimiter?: SharedLoginLimiter
  /** Told when a login is refused because the shared limits could not be reached (a metric). */
  readonly onSharedLimitFailure?: () => void
}

export class PluginHost implements RequestHooks {
  /** What the plugins contribute at load time (kinds, helpers, codes, commands); the host runs hooks. */
  readonly registry: PluginRegistry
  readonly kindValidators: ReadonlyMap<string, KindValidator>
  readonly kindRenderers: ReadonlyMap<string, KindRenderer>
  readonly cacheable: boolean
  readonly hasPrepare: boolean
  readonly loginLimiter: LoginLimiter

  /** Throws BP_ERR_PLUGIN_DEFINITION for a malformed plugin or a collision (see PluginRegistry). */
  constructor(
    readonly plugins: readonly BootpolicyPlugin[],
    private readonly options: PluginHostOptions,
  ) {
    this.loginLimiter = new LoginLimiter(options.loginLimits)
    this.registry = options.registry ?? PluginRegistry.of(plugins)
    this.kindValidators = this.registry.kindValidators
    this.kindRenderers = this.registry.kindRenderers
    this.cacheable = this.registry.cacheable
    this.hasPrepare = this.registry.hasPrepare
  }

  revision(): string {
    return this.registry.revision()
  }

  /** Handlers of one hook: `pre` first, then unordered, then `post`; plugin order within each. */
  handlers<K extends HookName>(hook: K): Bound<K>[] {
    const rank = (spec: HookSpec<unknown>): number => {
      const order = typeof spec === 'object' && spec !== null ? (spec as { order?: string }).order : undefined
      return order === 'pre' ? 0 : order === 'post' ? 2 : 1
    }
    return this.plugins
      .filter((p) => p.hooks?.[hook])
      .map((p, i) => ({ p, i, spec: p.hooks![hook] as HookSpec<Handler<K>> }))
      .sort((a, b) => rank(a.spec) - rank(b.spec) || a.i - b.i)
      .map(({ p, spec }) =>
        typeof spec === 'function' ? { plugin: p.name, handler: spec } : { plugin: p.name, handler: (spec as { handler: Handler<K> }).handler, kinds: (spec as { kinds?: readonly string[] }).kinds },
      )
  }

  private async call<T>(plugin: string, hook: string, trace: HookTrace[] | undefined, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now()
    let timer: NodeJS.Timeout | undefined
    const timeoutMs = this.options.hookTimeoutMs
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new BootpolicyError('BP_ERR_PLUGIN_TIMEOUT', { plugin, hook, timeoutMs })), timeoutMs)
      })
      const result = await Promise.race([fn(), timeout])
      trace?.push({ plugin, hook, ms: round(performance.now() - t0) })
      return result
    } catch (err) {
      const error =
        err instanceof BootpolicyError && (err.code === 'BP_ERR_PLUGIN_TIMEOUT' || err.code === 'BP_ERR_PLUGIN_HOOK')
          ? err
          : new BootpolicyError('BP_ERR_PLUGIN_HOOK', { plugin, hook, details: messageOf(err) }, { cause: err })
      trace?.push({ plugin, hook, ms: round(performance.now() - t0), error: error.code })
      // Unreachable shared state is logged once per outage by the engine (state-failsafe.ts), not per boot.
      if (isStateUnavailable(error)) this.options.logger.debug({ plugin, hook, err: error }, 'plugin hook failed')
      else this.options.logger.warn({ plugin, hook, err: error }, 'plugin hook failed')
      this.options.onHookFailure?.({ plugin, hook, code: error.code })
      throw error
    } finally {
      clearTimeout(timer)
    }
  }

  async onRequest(ctx: BootContext, trace: HookTrace[]): Promise<void> {
    for (const h of this.handlers('onRequest')) await this.call(h.plugin, 'onRequest', trace, () => h.handler(ctx))
  }

  async enrich(ctx: BootContext, trace: HookTrace[]): Promise<Record<string, unknown>> {
    const handlers = this.handlers('enrich')
    if (handlers.length === 0) return {}
    const settled = await Promise.allSettled(handlers.map((h) => this.call(h.plugin, 'enrich', trace, () => h.handler(ctx))))
    const facts: Record<string, unknown> = {}
    settled.forEach((r, i) => {
      // A failed enrich leaves its slot empty: policies see less, the request goes on.
      if (r.status === 'fulfilled' && r.value !== undefined) facts[handlers[i]!.plugin] = r.value
    })
    return facts
  }

  /**
   * For /boot: a login whose shared limits cannot be reached throws, so the boot gets the state
   * failsafe (a retry script that asks for the login again), not an "authentication failed" the
   * user would answer by typing the password again.
   */
  async authenticate(ctx: BootContext, credentials: Credentials, trace: HookTrace[]): Promise<AuthState> {
    const outcome = await this.verify(ctx, credentials, trace)
    if (outcome.stateError !== undefined) throw stateUnavailable('the shared login limits', outcome.stateError)
    return outcome.auth
  }

  /** Whether any plugin has an authenticate hook (POST /api/login is off without one). */
  get canAuthenticate(): boolean {
    return this.handlers('authenticate').length > 0
  }

  /**
   * The authenticate phase with why a login failed, for front doors that answer differently to a
   * limited attempt (429), an unreachable backend (503) and a refusal (401): the operator login.
   */
  async verify(ctx: BootContext, credentials: Credentials, trace: HookTrace[]): Promise<LoginOutcome> {
    const handlers = this.handlers('authenticate')
    const { username } = credentials
    const refused = (reason: string): LoginOutcome => ({ auth: { status: 'failed', username, reason }, failure: 'refused' })
    const limitedBy = (limited: LimitVerdict): LoginOutcome => ({ auth: { status: 'failed', username, reason: limitedReason(limited) }, failure: 'limited', retryInS: limited.retryInS })
    const unavailable = (reason: string): LoginOutcome => ({ auth: { status: 'failed', username, reason }, failure: 'unavailable' })
    if (handlers.length === 0) return unavailable('no authentication backend is configured')
    // Reserved before any backend call, in the same tick as the check: a parallel burst is held to the limits.
    const begun = this.loginLimiter.begin(username, ctx.remoteAddress)
    if ('limited' in begun) {
      const { limited } = begun
      this.options.logger.warn({ code: 'BPSEC002', username, remoteAddress: ctx.remoteAddress, limitedBy: limited.key, retryInS: limited.retryInS }, 'BPSEC002 login rate limited')
      return limitedBy(limited)
    }
    let attempt: LoginAttempt = begun.attempt
    let flushShared: (() => Promise<void>) | undefined
    if (this.options.sharedLimiter) {
      let shared: Awaited<ReturnType<SharedLoginLimiter['reserve']>>
      try {
        shared = await this.options.sharedLimiter.reserve(username, ctx.remoteAddress)
      } catch (err) {
        // Fail closed: without the shared counters no replica may let guesses through unbounded;
        // no backend is asked.
        begun.attempt.release()
        this.options.onSharedLimitFailure?.()
        if (!isStateUnavailable(err)) {
          this.options.logger.error({ code: (err as { code?: string }).code, username, err: { message: (err as Error).message } }, 'login refused: shared login limits failed')
          return unavailable('login limits failed')
        }
        // Logged once per outage by the failsafe (/boot) or answered 503 (operator login).
        return { ...unavailable('login limits unavailable (state database unreachable)'), stateError: err }
      }
      if ('limited' in shared) {
        begun.attempt.release()
        const { limited } = shared
        this.options.logger.warn({ code: 'BPSEC002', username, remoteAddress: ctx.remoteAddress, limitedBy: limited.key, retryInS: limited.retryInS, shared: true }, 'BPSEC002 login rate limited')
        return limitedBy(limited)
      }
      const local = begun.attempt
      const remote = shared.attempt
      flushShared = remote.flush
      attempt = {
        failed: () => {
          local.failed()
          remote.failed()
        },
        succeeded: () => {
          local.succeeded()
          remote.succeeded()
        },
        release: () => {
          local.release()
          remote.release()
        },
      }
    }
    // Scrubbed from every log line from now until the backend call has really ended (and 60 s after).
    const releaseSecret = holdRequestSecret(credentials.password)
    const release = () => {
      attempt.release()
      releaseSecret()
    }
    let backendError = false
    // Backend calls still running: a timed-out call keeps its reservation until it really ends.
    let running = 0
    const started = (result: Promise<AuthResult>): Promise<AuthResult> => {
      const p = Promise.resolve(result)
      running++
      const done = () => {
        if (--running === 0 && answered) release()
      }
      p.then(done, done)
      return p
    }
    let answered = false
    try {
      for (const h of handlers) {
        let result
        try {
          result = await this.call(h.plugin, 'authenticate', trace, () => started(h.handler(ctx, credentials)))
        } catch {
          backendError = true
          continue
        }
        if (result && 'principal' in result) {
          attempt.succeeded()
          // The reset reaches every replica before the client can try again.
          await flushShared?.()
          return { auth: { status: 'authenticated', username, principal: { ...result.principal, source: result.principal.source || h.plugin } } }
        }
        if (result && 'failed' in result) {
          attempt.failed()
          return refused(result.failed)
        }
      }
      // An unavailable backend is not the client's fault: only refusals count against the limits.
      if (!backendError) attempt.failed()
      return backendError ? unavailable('authentication service unavailable') : refused('unknown user or wrong password')
    } finally {
      answered = true
      if (running === 0) release()
    }
  }

  async decide(ctx: BootContext, trace: HookTrace[]): Promise<{ decision: Decision; plugin: string } | undefined> {
    for (const h of this.handlers('decide')) {
      let decision: Decision | undefined
      try {
        decision = await this.call(h.plugin, 'decide', trace, () => h.handler(ctx))
      } catch {
        continue
      }
      if (decision === undefined) continue
      const checked = validateDecision(decision, this.kindValidators)
      if (!checked.ok) {
        this.options.logger.warn({ plugin: h.plugin, hook: 'decide', problems: checked.problems }, 'plugin returned an invalid decision')
        continue
      }
      return { decision, plugin: h.plugin }
    }
    return undefined
  }

  async prepare(ctx: BootContext, decision: Decision, trace: HookTrace[]): Promise<Decision> {
    let current = decision
    // A failed prepare throws: the side effect the decision needs did not happen, so the failsafe is served.
    for (const h of this.handlers('prepare')) {
      if (h.kinds && !h.kinds.some((k) => decisionKinds(current).has(k))) continue
      const next = await this.call(h.plugin, 'prepare', trace, () => h.handler(ctx, current))
      if (next !== undefined) current = next
    }
    return current
  }

  onResponse(record: object): void {
    for (const h of this.handlers('onResponse')) {
      void this.call(h.plugin, 'onResponse', undefined, () => h.handler(record)).catch(() => undefined)
    }
  }

  /** The DHCP service's decideBoot: the first plugin override wins; failures fall back to defaults. */
  async dhcpOffer(facts: DhcpClientFacts): Promise<BootOverride | undefined> {
    for (const h of this.handlers('dhcpOffer')) {
      try {
        const override = await this.call(h.plugin, 'dhcpOffer', undefined, () => h.handler(facts))
        if (override) return override
      } catch {
        // logged by call(); the next plugin or the defaults answer
      }
    }
    return undefined
  }

  /** Virtual files for TFTP and HTTP: the first plugin that has the path serves it. */
  async virtualFile(path: string, client: TransferClient): Promise<Buffer | undefined> {
    for (const h of this.handlers('virtualFile')) {
      try {
        const file = await this.call(h.plugin, 'virtualFile', undefined, () => h.handler(path, client))
        if (file) return file
      } catch {
        // logged; try the next provider, then the disk
      }
    }
    return undefined
  }

  get hasVirtualFiles(): boolean {
    return this.handlers('virtualFile').length > 0
  }

  get hasDhcpOffer(): boolean {
    return this.handlers('dhcpOffer').length > 0
  }

  async ready(): Promise<void> {
    for (const h of this.handlers('onReady')) await this.call(h.plugin, 'onReady', undefined, () => h.handler())
  }

  /** onClose hooks and close() in reverse plugin order; failures are logged, closing goes on. */
  async close(): Promise<void> {
    for (const p of [...this.plugins].reverse()) {
      const hook = p.hooks?.onClose
      const handler = typeof hook === 'function' ? hook : hook?.handler
      if (handler) await this.call(p.name, 'onClose', undefined, () => handler()).catch(() => undefined)
      if (p.close) await this.call(p.name, 'close', undefined, () => p.close!()).catch(() => undefined)
    }
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100
}
