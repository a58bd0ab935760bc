/**
 * A plugin's own error codes. Core's catalog lists only core codes (the core knows no plugin by
 * name); a plugin declares its codes here and ships their documentation in its README. The errors
 * it makes are ordinary BootpolicyErrors (same mark, `code`, `params`, `cause`), so the CLI, the
 * logs and the HTTP failsafe treat them like core's.
 */
import { BootpolicyError, type ErrorParams } from '../errors/bp-error.js'

export interface PluginErrorSpec {
  /** Message template; `{name}` is replaced from the error's params. */
  readonly message: string
  /** When it happens (documentation: the README's table has the same text). */
  readonly when: string
  /** How to fix it. */
  readonly fix: string
  /** HTTP status when the error reaches an HTTP client. */
  readonly status?: number
}

export interface PluginErrors<Code extends string = string> {
  /** Upper-case letters and digits, e.g. `ISCSI`: every code starts with `BP_ERR_<NS>_`, `BPWRN_<NS>_` or `BPSEC_<NS>_`. */
  readonly namespace: string
  readonly codes: Readonly<Record<Code, PluginErrorSpec>>
  /** A BootpolicyError with this code's message; `throw errors.create('BP_ERR_X_Y', { … })`. */
  create(code: Code, params?: ErrorParams, options?: { cause?: unknown }): BootpolicyError
}

/**
 * `export const errors = defineErrors('ISCSI', { BP_ERR_ISCSI_BUSY: { message, when, fix } })`, then
 * `errors` in the plugin definition and `throw errors.create('BP_ERR_ISCSI_BUSY', { … })`. The shape of
 * the codes is checked when the plugin loads (see plugin-registry.ts), not here: a bad table is a
 * load error that names the plugin.
 */
export function defineErrors<const Codes extends Record<string, PluginErrorSpec>>(namespace: string, codes: Codes): PluginErrors<Extract<keyof Codes, string>> {
  const table = Object.freeze({ ...codes })
  return Object.freeze({
    namespace,
    codes: table,
    create(code: Extract<keyof Codes, string>, params: ErrorParams = {}, options?: { cause?: unknown }): BootpolicyError {
      const spec = Object.hasOwn(table, code) ? table[code] : undefined
      // An undeclared code is a bug in the plugin: still an error with that code, never a crash here.
      return new BootpolicyError(code as never, params, { ...options, entry: spec ?? { message: `${code} {details}` } })
    },
  })
}
