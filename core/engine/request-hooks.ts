/**
 * What the engine asks of the plugin host for each request. The engine knows no plugin by name;
 * core/plugins implements this interface, and `noHooks` is the host with no plugins.
 */
import type { AuthState, BootContext, Credentials } from '../context/types.js'
import type { Decision } from '../decision/types.js'
import type { KindValidator } from '../decision/validate-decision.js'
import type { KindRenderer } from '../ipxe/render-decision.js'

export interface HookTrace {
  readonly plugin: string
  readonly hook: string
  readonly ms: number
  readonly error?: string
}

export interface RequestHooks {
  /** Sequential: may veto nothing, only observe or annotate (rate limits are applied here). */
  onRequest(ctx: BootContext, trace: HookTrace[]): Promise<void>
  /** Parallel: each plugin returns facts for its own slot; merged into ctx.plugins. */
  enrich(ctx: BootContext, trace: HookTrace[]): Promise<Record<string, unknown>>
  /** First principal wins. Called only when credentials were sent. */
  authenticate(ctx: BootContext, credentials: Credentials, trace: HookTrace[]): Promise<AuthState>
  /** After the policies passed: plugins in order, first decision wins. */
  decide(ctx: BootContext, trace: HookTrace[]): Promise<{ decision: Decision; plugin: string } | undefined>
  /** Sequential, idempotent side effects; may return a replacement decision (e.g. with a CHAP secret). */
  prepare(ctx: BootContext, decision: Decision, trace: HookTrace[]): Promise<Decision>
  /** Parallel, never throws. */
  onResponse(record: object): void
  /**
   * True when every plugin with an onRequest, enrich or decide hook declares a revision: the answer
   * is then a pure function of the query, the client address, the policy revision and `revision()`,
   * and whole responses can be memoized (prepare still runs on every request).
   */
  readonly cacheable: boolean
  /** The plugins' declared revisions, part of the whole-response cache key. */
  revision(): string
  /** True when some plugin has a prepare hook (it must run even on a cached response). */
  readonly hasPrepare: boolean
  /** Decision kinds contributed by plugins. */
  readonly kindValidators: ReadonlyMap<string, KindValidator>
  readonly kindRenderers: ReadonlyMap<string, KindRenderer>
}

export const noHooks: RequestHooks = {
  async onRequest() {},
  async enrich() {
    return {}
  },
  async authenticate(_ctx, credentials) {
    return { status: 'failed', username: credentials.username, reason: 'no authentication backend is configured' }
  },
  async decide() {
    return undefined
  },
  async prepare(_ctx, decision) {
    return decision
  },
  onResponse() {},
  cacheable: true,
  revision: () => '',
  hasPrepare: false,
  kindValidators: new Map(),
  kindRenderers: new Map(),
}
