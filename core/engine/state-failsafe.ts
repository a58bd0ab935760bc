/**
 * The /boot answer when the decision needs shared state that cannot be read or written (the
 * PostgreSQL backend is unreachable, or the intents copy is known stale since an outage): not the
 * configured default, which may be a wrong decision (local disk while an intent may be armed, a
 * reinstall from a stale intent), but a script that says why on the client's console, waits, and
 * asks /boot again with the same identity, for as long as it takes: the machine boots rightly
 * once the database is back, without anyone touching it or the server. The wait has jitter, like
 * files admission control's Retry-After (core/files/admission.ts), so a room of machines does not
 * come back as one wave. Such answers are never cached (the engine's error path).
 * One error line per outage, however many boots it refuses; every refused boot counts in
 * `bootpolicy_state_unavailable_total{what="boot"}`.
 */
import type { Logger } from 'pino'
import type { BootContext } from '../context/types.js'
import type { BootpolicyError } from '../errors/bp-error.js'
import { retrySeconds } from '../files/admission.js'
import { identityQuery } from '../ipxe/identity-query.js'
import { IpxeScript } from '../ipxe/script-builder.js'
import { stateUnavailableIn } from '../state/state-unavailable.js'

/** Wait before asking again: 10 s plus 0..20 s at random. */
export const STATE_RETRY = { retrySeconds: 10, jitterSeconds: 20 } as const

const RETRY_LABEL = 'bp_state_retry'

/** Seconds to wait this time: STATE_RETRY with its jitter, drawn like admission control's Retry-After. */
export function stateRetryWait(random: () => number = Math.random): number {
  return retrySeconds(STATE_RETRY, random)
}

/** The script body (its `${bp-req}` is bound by the engine); every client value goes through IpxeScript. */
export function stateFailsafeScript(ctx: BootContext, bootPath: string, seconds: number): string {
  const s = new IpxeScript()
  s.label(RETRY_LABEL)
  s.command('echo', s.text('bootpolicy: this boot needs the shared state database, which cannot be reached right now.'))
  s.command('echo', s.text(`bootpolicy: no decision is made without it, asking again in ${seconds} seconds`), '(request', '${bp-req})')
  s.command('sleep', String(seconds))
  // The admin's round-trip parameters (a menu choice) come back too, escaped by identityQuery.
  s.commandOr(RETRY_LABEL, 'chain', '--replace', '--autofree', s.arg('again', `${bootPath}?${identityQuery(ctx, ctx.params)}`))
  return s.toString()
}

/** Counts every refused boot and logs the first of each outage. */
export class StateOutageReport {
  private reported = false

  constructor(
    private readonly logger: Logger,
    private readonly count: () => void = () => undefined,
  ) {}

  refused(reqId: string, err: BootpolicyError): void {
    this.count()
    if (this.reported) return
    this.reported = true
    const inner = stateUnavailableIn(err) ?? err
    // Codes and messages only: the backend's message names user@host:port/db, never the password.
    this.logger.error(
      { reqId, err: { code: err.code, message: err.message }, state: { code: inner.code, message: inner.message } },
      'boots that need shared state get the retry failsafe: state unreachable',
    )
  }

  /** The database answers again (the backend's `up`): the next outage logs again. */
  recovered(): void {
    if (!this.reported) return
    this.reported = false
    this.logger.info('boots that need shared state are decided again')
  }
}
