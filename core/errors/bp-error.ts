import { catalog, type ErrorCode } from './catalog.js'

export type ErrorParams = Record<string, string | number | undefined>

/** An error from the catalog: a stable code, a formatted message and the original `cause`. */
export class BootpolicyError extends Error {
  readonly code: ErrorCode
  readonly statusCode: number | undefined
  readonly params: ErrorParams

  constructor(code: ErrorCode, params: ErrorParams = {}, options?: { cause?: unknown }) {
    super(formatMessage(code, params), options)
    this.name = 'BootpolicyError'
    this.code = code
    this.params = params
    const entry = catalog[code] as { status?: number }
    this.statusCode = entry.status
  }
}

export function formatMessage(code: ErrorCode, params: ErrorParams): string {
  return catalog[code].message.replace(/\{(\w+)\}/g, (_, key: string) => String(params[key] ?? `{${key}}`))
}

export function isBootpolicyError(err: unknown, code?: ErrorCode): err is BootpolicyError {
  return err instanceof BootpolicyError && (code === undefined || err.code === code)
}

/** Message of any thrown value, for logs and wrapping. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
