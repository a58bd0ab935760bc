/**
 * Every memo of the /boot path except the policy runner's outcome cache, in one place (issue 11),
 * each bounded by configuration (`policies.cacheSize`, `policies.cacheTtlMs`), never by traffic:
 * - whole responses by (policy revision, plugin revisions, client address, query), while the hooks
 *   are cacheable;
 * - built contexts by (client address, query), only when whole responses are not cached (otherwise
 *   a repeated request is answered before a context is needed, and a one-off one would only evict);
 * - rendered bodies: by the decision object itself when its script does not depend on the context
 *   (no `again`, `login` or plugin kind inside: the seed-003 switch, the default `exit`), so that
 *   distinct machines getting the same answer share one body; otherwise by (revision, context).
 * A query that carries credentials is never a key (neither its response nor its context), and a
 * query longer than MAX_KEY_CHARS is not kept: an entry's size is bounded, so is the whole.
 */
import { LRUCache } from 'lru-cache'
import { deepFreeze, type BuiltContext } from '../context/build-context.js'
import { isSealed } from '../context/deep-freeze.js'
import type { Decision } from '../decision/types.js'
import type { BootResponse } from './engine.js'

/** iPXE's bootstrap query is ~400 characters; a longer one is answered, not memoized. */
export const MAX_KEY_CHARS = 2048

export interface DecisionCacheOptions {
  /** Entries per memo; 0 turns every memo off. */
  readonly size: number
  /** 0: no expiry. */
  readonly ttlMs: number
  /** The hooks declare revisions (RequestHooks.cacheable): whole responses may be kept. */
  readonly wholeResponses: boolean
}

/** Which decision a body is rendered from: the memoized policy outcome's, the default, or another (not kept). */
export type BodySource = 'policy' | 'default' | undefined

export class DecisionCache {
  private readonly responses: LRUCache<string, BootResponse> | undefined
  private readonly contexts: LRUCache<string, BuiltContext> | undefined
  private readonly bodies: LRUCache<string, string> | undefined
  /** Context-free bodies by decision object (frozen, held by the runner's memos): they die with it. */
  private readonly shared = new WeakMap<Decision, string>()

  constructor(options: DecisionCacheOptions) {
    const lru = <V extends {}>() => new LRUCache<string, V>({ max: options.size, ttl: options.ttlMs || undefined })
    const on = options.size > 0
    this.responses = on && options.wholeResponses ? lru<BootResponse>() : undefined
    this.contexts = on && !options.wholeResponses ? lru<BuiltContext>() : undefined
    this.bodies = on ? lru<string>() : undefined
  }

  /** The whole-response key, or undefined when this request's answer must not be kept. */
  responseKey(revisions: { policies: string; plugins: string }, remoteAddress: string, query: string, flags: { dryRun?: boolean; withCredentials: boolean }): string | undefined {
    if (!this.responses || flags.dryRun || flags.withCredentials || query.length > MAX_KEY_CHARS) return undefined
    return `${revisions.policies}\n${revisions.plugins}\n${remoteAddress}\n${query}`
  }

  response(key: string | undefined): BootResponse | undefined {
    const hit = key === undefined ? undefined : this.responses!.get(key)
    // Every hit logs these same parts again: frozen, the decision log writes them once
    // (decision-line.ts). Frozen at the first hit, not when kept: under distinct machines most kept
    // responses are evicted unread, and each seal costs WeakSet entries (build-context.ts).
    if (hit && !isSealed(hit.record.policies)) {
      deepFreeze(hit.record.policies)
      deepFreeze(hit.record.plugins)
    }
    return hit
  }

  keepResponse(key: string | undefined, response: BootResponse): void {
    if (key !== undefined) this.responses!.set(key, response)
  }

  /** The built context of (address, query), from the memo when allowed; `build` otherwise. */
  context(remoteAddress: string, query: string, withCredentials: boolean, build: () => BuiltContext): BuiltContext {
    if (!this.contexts || withCredentials || query.length > MAX_KEY_CHARS) return build()
    const key = `${remoteAddress}\n${query}`
    let built = this.contexts.get(key)
    if (!built) this.contexts.set(key, (built = build()))
    return built
  }

  /**
   * The body rendered from `decision`: kept only for the very decision object a memoized outcome
   * holds, or the default (`source`), never for one a plugin's prepare replaced (it may carry
   * fresh secrets); `runKey` identifies (revision, context) for bodies that depend on the context.
   */
  body(decision: Decision, source: BodySource, runKey: string | undefined, render: () => string): string {
    if (!this.bodies || source === undefined || decision.kind === 'template') return render()
    if (!dependsOnContext(decision)) {
      let body = this.shared.get(decision)
      if (body === undefined) this.shared.set(decision, (body = render()))
      return body
    }
    if (runKey === undefined) return render()
    const key = `${runKey}\n${source}`
    let body = this.bodies.get(key)
    if (body === undefined) this.bodies.set(key, (body = render()))
    return body
  }

  /** Entries held, per memo (tests, the memory figures in docs/benchmarks.md). */
  get sizes(): { responses: number; contexts: number; bodies: number } {
    return { responses: this.responses?.size ?? 0, contexts: this.contexts?.size ?? 0, bodies: this.bodies?.size ?? 0 }
  }
}

/** Core kinds whose script is a function of the decision alone; menus are walked (bounded by the renderer's budget). */
const CONTEXT_FREE: ReadonlySet<string> = new Set(['boot', 'chain', 'sanboot', 'exit', 'shell', 'reboot'])

function dependsOnContext(decision: Decision, depth = 0): boolean {
  if (CONTEXT_FREE.has(decision.kind)) return false
  if (decision.kind !== 'menu' || depth > 8) return true
  const items = (decision as { items?: readonly unknown[] }).items
  if (!Array.isArray(items) || items.length > 256) return true
  return items.some((e) => typeof e === 'object' && e !== null && 'action' in e && dependsOnContext((e as { action: Decision }).action, depth + 1))
}
