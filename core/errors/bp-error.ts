import { catalog, type ErrorCode } from './catalog.js'

export type ErrorParams = Record<string, string | number | undefined>

/**
 * Marks catalog errors across module copies: a plugin may load `bootpolicy/plugin` from another
 * copy of bootpolicy (dist/ beside source, or its own node_modules), where `instanceof` fails.
 */
const MARK = Symbol.for('bootpolicy.error')

/** An error from the catalog: a stable code, a formatted message and the original `cause`. */
export class BootpolicyError extends Error {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARK] === true
  }

  /** A core code, or a plugin's own (`BP_ERR_<NS>_…`, declared with defineErrors). */
  readonly code: ErrorCode | PluginErrorCode
  readonly statusCode: number | undefined
  readonly params: ErrorParams

  /** `entry`: a plugin's own code's message and status (plugin-errors.ts); core codes come from the catalog. */
  constructor(code: ErrorCode, params: ErrorParams = {}, options?: { cause?: unknown; entry?: { readonly message: string; readonly status?: number } }) {
    const entry = options?.entry ?? (catalog[code] as { message?: string; status?: number } | undefined)
    super(formatMessage(code, params, entry?.message), options && 'cause' in options ? { cause: options.cause } : undefined)
    this.name = 'BootpolicyError'
    ;(this as unknown as Record<symbol, unknown>)[MARK] = true
    this.code = code
    this.params = params
    this.statusCode = entry?.status
  }
}

/** The shapes a plugin's code may take; which namespace is the plugin's is checked at load. */
export type PluginErrorCode = `BP_ERR_${string}` | `BPWRN_${string}` | `BPSEC_${string}`

export function formatMessage(code: string, params: ErrorParams, template?: string): string {
  // An older copy of the catalog (a plugin's own dependency) may not know a newer code.
  const text = template ?? (catalog[code as ErrorCode] as { message?: string } | undefined)?.message ?? `${code} {details}`
  return text.replace(/\{(\w+)\}/g, (_, key: string) => String(params[key] ?? `{${key}}`))
}

export function isBootpolicyError(err: unknown, code?: ErrorCode): err is BootpolicyError {
  return err instanceof BootpolicyError && (code === undefined || err.code === code)
}

/** Message of any thrown value, for logs and wrapping. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
