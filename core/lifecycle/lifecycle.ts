/**
 * The machine lifecycle service: arms, clears and lists intents, shows each boot its machine's
 * intent (`ctx.intent`), hands boots under an intent a fresh installer token, settles the
 * installer's callbacks, and ends expired intents (lazily at lookup and by a once-a-second sweep).
 * Every change is told to `subscribe`d listeners (the machine timeline) and counted in metrics.
 * It knows no HTTP: routes in core/http/routes/intents.ts and callback.ts translate to it.
 */
import type { Logger } from 'pino'
import type { BootContext } from '../context/types.js'
import { BootpolicyError } from '../errors/bp-error.js'
import type { Metrics } from '../metrics/metrics.js'
import { mintToken, hashToken, TOKEN_PLACEHOLDER } from './intent-token.js'
import type { CallbackReport, IntentStore } from './intent-store.js'
import { type EndedIntent, factsOf, type IntentFacts, type IntentRecord, type LifecycleEvent, type MachineKey, machineKeyText } from './intent-types.js'
import type { IntentRequest } from './validate-intent.js'
import { randomUUID } from 'node:crypto'
import { isStateUnavailable } from '../state/state-unavailable.js'

export interface LifecycleOptions {
  readonly store: IntentStore
  readonly logger: Logger
  readonly metrics?: Metrics
  /** The clock (tests); default Date.now. */
  readonly now?: () => number
  /** How often expired intents are swept (default 1000 ms; 0: no timer). */
  readonly sweepMs?: number
}

export type CallbackResult = { readonly outcome: 'built'; readonly intent: EndedIntent } | { readonly outcome: 'failed'; readonly intent: IntentRecord }

export class Lifecycle {
  private readonly listeners = new Set<(e: LifecycleEvent) => void>()
  private readonly timer: NodeJS.Timeout | undefined
  private readonly now: () => number
  /** Facts per record object: a record is immutable, so its view is computed once. */
  private readonly facts = new WeakMap<IntentRecord, IntentFacts>()

  constructor(private readonly options: LifecycleOptions) {
    this.now = options.now ?? Date.now
    const every = options.sweepMs ?? 1000
    if (every > 0) {
      // An unreachable database is logged once per outage by the backend, not once a second here.
      const failed = (err: unknown): void => void (isStateUnavailable(err) || options.logger.error({ err }, 'intent expiry sweep failed'))
      this.timer = setInterval(() => void this.sweep().catch(failed), every)
      this.timer.unref()
    }
  }

  /** Listen to every intent change and callback; returns the unsubscribe. A listener's throw is ignored. */
  subscribe(listener: (e: LifecycleEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Part of the whole-response cache key: any intent change makes earlier answers stale. */
  revision(): string {
    return this.options.store.revision()
  }

  /** The intent policies see for this boot, by MAC, then UUID, then label (hostname). */
  async intentFor(ctx: BootContext): Promise<IntentFacts | undefined> {
    const keys: MachineKey[] = []
    if (ctx.mac) keys.push({ by: 'mac', value: ctx.mac })
    if (ctx.uuid) keys.push({ by: 'uuid', value: ctx.uuid })
    if (ctx.hostname) keys.push({ by: 'label', value: ctx.hostname.toLowerCase() })
    if (keys.length === 0) return undefined
    const now = this.now()
    const record = await this.options.store.find(keys, now)
    if (!record) return undefined
    let view = this.facts.get(record)
    if (!view) this.facts.set(record, (view = factsOf(record)))
    return view
  }

  async arm(req: IntentRequest, via: string): Promise<{ intent: IntentRecord; replaced?: EndedIntent }> {
    const now = this.now()
    const intent: IntentRecord = {
      id: randomUUID(),
      machine: req.machine,
      target: req.target,
      note: req.note,
      expiresAt: req.expiresAt,
      setBy: req.setBy ? `${req.setBy} (${via})` : via,
      setAt: now,
      state: 'armed',
      tokensIssued: 0,
    }
    const { replaced } = await this.options.store.arm(intent, now)
    this.count('armed')
    if (replaced) this.count('replaced')
    this.options.logger.info({ intent: { id: intent.id, machine: machineKeyText(intent.machine), setBy: intent.setBy, expiresAt: new Date(intent.expiresAt).toISOString() } }, 'intent armed')
    this.emit({ type: 'armed', intent, ...(replaced && { replaced }) })
    return { intent, ...(replaced && { replaced }) }
  }

  async clear(machine: MachineKey, by: string): Promise<EndedIntent> {
    const ended = await this.options.store.clear(machine, by, this.now())
    if (!ended) throw new BootpolicyError('BP_ERR_INTENT_NOT_FOUND', { machine: machineKeyText(machine) })
    this.count('cleared')
    this.options.logger.info({ intent: { id: ended.id, machine: machineKeyText(machine), endedBy: by } }, 'intent cleared')
    this.emit({ type: 'ended', intent: ended })
    return ended
  }

  list(): Promise<{ readonly active: readonly IntentRecord[]; readonly ended: readonly EndedIntent[] }> {
    return this.options.store.list()
  }

  /**
   * The finished script with INTENT_TOKEN replaced: a fresh token when the boot is under an intent
   * and the machine has a MAC or UUID to bind it to (the previous token is revoked), else nothing.
   */
  async bindToken(script: string, ctx: BootContext): Promise<string> {
    if (!script.includes(TOKEN_PLACEHOLDER)) return script
    let token = ''
    if (ctx.intent && (ctx.mac || ctx.uuid)) {
      const minted = mintToken()
      const bound = await this.options.store.issueToken(ctx.intent.id, { hash: minted.hash, ...(ctx.mac && { mac: ctx.mac }), ...(ctx.uuid && { uuid: ctx.uuid }), issuedAt: this.now() }, this.now())
      if (bound) {
        token = minted.token
        this.count('token-issued')
        this.emit({ type: 'token-issued', intent: bound })
      }
    }
    return script.replaceAll(TOKEN_PLACEHOLDER, token)
  }

  /** An installer's `built` or `failed`. Throws BP_ERR_CALLBACK_TOKEN / _EXPIRED when refused. */
  async callback(machine: { mac?: string; uuid?: string }, token: string, report: CallbackReport): Promise<CallbackResult> {
    const result = await this.options.store.settle(machine, hashToken(token), report, this.now())
    if (!result.ok) {
      this.options.metrics?.callbacks.inc({ outcome: report.outcome, result: result.why === 'expired' ? 'expired' : 'refused' })
      if (result.ended) this.ended([result.ended])
      this.emit({ type: 'callback-refused', outcome: report.outcome, ...machine })
      this.options.logger.warn({ callback: { outcome: report.outcome, ...machine, why: result.why } }, 'installer callback refused')
      throw new BootpolicyError(result.why === 'expired' ? 'BP_ERR_CALLBACK_EXPIRED' : 'BP_ERR_CALLBACK_TOKEN')
    }
    this.options.metrics?.callbacks.inc({ outcome: report.outcome, result: 'accepted' })
    const log = { intent: { id: result.intent.id, machine: machineKeyText(result.intent.machine) }, callback: { outcome: report.outcome, reason: report.reason } }
    if (result.outcome === 'built') {
      this.count('consumed')
      this.options.logger.info(log, 'intent consumed: the installer reported built')
      this.emit({ type: 'ended', intent: result.intent })
      return { outcome: 'built', intent: result.intent }
    }
    this.count('failed')
    this.options.logger.warn(log, 'installer reported failure; the intent stays armed')
    this.emit({ type: 'failed', intent: result.intent })
    return { outcome: 'failed', intent: result.intent }
  }

  /** End every expired intent now (the timer calls this every second). */
  async sweep(): Promise<readonly EndedIntent[]> {
    const ended = await this.options.store.expire(this.now())
    this.ended(ended)
    return ended
  }

  close(): void {
    clearInterval(this.timer)
    this.options.store.close?.()
  }

  private ended(list: readonly EndedIntent[]): void {
    for (const e of list) {
      this.count('expired')
      this.options.logger.warn({ code: 'BPWRN011', intent: { id: e.id, machine: machineKeyText(e.machine), reason: e.reason } }, 'BPWRN011 intent expired before its callback')
      this.emit({ type: 'ended', intent: e })
    }
  }

  private count(event: string): void {
    this.options.metrics?.intents.inc({ event })
  }

  private emit(e: LifecycleEvent): void {
    for (const l of this.listeners) {
      try {
        l(e)
      } catch {
        // a listener (the timeline) must not break a callback or a boot
      }
    }
  }
}
