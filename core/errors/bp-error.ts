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

  readonly code: ErrorCode
  readonly statusCode: number | undefined
  readonly params: ErrorParams

  constructor(code: ErrorCode, params: ErrorParams = {}, options?: { cause?: unknown }) {
    super(formatMessage(code, params), options)
    this.name = 'BootpolicyError'
    ;(this as unknown as Record<symbol, unknown>)[MARK] = true
    this.code = code
    this.params = params
    const entry = catalog[code] as { status?: number } | undefined
    this.statusCode = entry?.status
  }
}

export function formatMessage(code: ErrorCode, params: ErrorParams): string {
  // An older copy of the catalog (a plugin's own dependency) may not know a newer code.
  const template = (catalog[code] as { message?: string } | undefined)?.message ?? `${code} {details}`
  return template.replace(/\{(\w+)\}/g, (_, key: string) => String(params[key] ?? `{${key}}`))
}

export function isBootpolicyError(err: unknown, code?: ErrorCode): err is BootpolicyError {
  return err instanceof BootpolicyError && (code === undefined || err.code === code)
}

/** Message of any thrown value, for logs and wrapping. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
