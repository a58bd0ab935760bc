/**
 * "The shared state this answer needs cannot be read or written": one typed error, recognised at
 * any depth of `cause`. The PostgreSQL backend rejects with it (BP_ERR_STATE_UNAVAILABLE), core and
 * plugins wrap it in their own errors (BP_ERR_INTENT_STATE, a plugin's BP_ERR_<NS>_STATE, the host's
 * BP_ERR_PLUGIN_HOOK), and the engine still knows to answer /boot with the retry failsafe
 * (core/engine/state-failsafe.ts) instead of the configured default, which might be a wrong
 * decision (local disk while an intent may be armed). Plugins reach both through bootpolicy/plugin.
 */
import { BootpolicyError } from '../errors/bp-error.js'

/** Causes followed at most: a cycle of causes must not loop. */
const MAX_DEPTH = 8

/** Whether `err`, or one of its causes, says the shared state is unreachable. */
export function isStateUnavailable(err: unknown): boolean {
  return stateUnavailableIn(err) !== undefined
}

/** The BP_ERR_STATE_UNAVAILABLE inside `err` (itself or a cause), for the log. */
export function stateUnavailableIn(err: unknown): BootpolicyError | undefined {
  let e: unknown = err
  for (let i = 0; i < MAX_DEPTH && e !== null && typeof e === 'object'; i++) {
    if (e instanceof BootpolicyError && e.code === 'BP_ERR_STATE_UNAVAILABLE') return e
    e = (e as { cause?: unknown }).cause
  }
  return undefined
}

/**
 * The error a plugin throws from a hook when its answer needs shared state it cannot reach, e.g.
 * `throw stateUnavailable('pxelinux-cfg files', err)`: the boot gets the retry failsafe. `what`
 * names the state in the log (never a secret); the original goes under `cause`.
 */
export function stateUnavailable(what: string, cause?: unknown): BootpolicyError {
  const details = cause instanceof Error ? cause.message : 'unreachable'
  return new BootpolicyError('BP_ERR_STATE_UNAVAILABLE', { target: `holding ${what}`, details }, cause === undefined ? undefined : { cause })
}
