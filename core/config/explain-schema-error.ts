/**
 * One ajv error as a person reads it: ajv says `must be equal to one of the allowed values`; this
 * adds which values, what was given, and for an unknown key the closest known one. The ajv
 * wording stays first (tools and tests match it). A value is quoted only when it cannot be a
 * secret: enum values and numbers; for a type error only the given type is named.
 */
import type { ErrorObject } from 'ajv'
import { didYouMean } from '../text/did-you-mean.js'

export interface ExplainedProblem {
  /** JSON pointer of the offending value (for an unknown key: of the key itself). */
  readonly pointer: string
  readonly message: string
}

export function explainSchemaError(e: ErrorObject): ExplainedProblem {
  const base = e.message ?? 'is invalid'
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String((e.params as { additionalProperty: string }).additionalProperty)
      const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {})
      const hint = didYouMean(key, known).replace(/; did you mean (.*)\?$/, '; did you mean "$1"?')
      return { pointer: `${e.instancePath}/${escapePointer(key)}`, message: `${base} ${JSON.stringify(key.slice(0, 80))}${hint}` }
    }
    case 'enum': {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')
      return { pointer: e.instancePath, message: `${base}: ${allowed} (got ${shown(e.data)})` }
    }
    case 'type':
      return { pointer: e.instancePath, message: `${base} (got ${typeOf(e.data)})` }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { pointer: e.instancePath, message: `${base} (got ${typeof e.data === 'number' ? e.data : typeOf(e.data)})` }
    default:
      return { pointer: e.instancePath, message: base }
  }
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1')
}

function typeOf(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'number') return Number.isInteger(v) ? 'an integer' : 'a number'
  if (typeof v === 'object') return 'an object'
  return `a ${typeof v}`
}

/** An enum candidate: a short string or a number is shown; anything else by its type. */
function shown(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  if (typeof v === 'string' && v.length <= 40 && !/[\u0000-\u001f\u007f]/.test(v)) return JSON.stringify(v)
  return typeOf(v)
}
