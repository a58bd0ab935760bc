/**
 * The decision log's line (one per /boot request), serialized in one pass instead of through
 * pino's redaction, formatter and stringify (three walks of the same record: most of what the
 * decision log cost a request). The same guarantees, applied while writing: every string is
 * scrubbed of registered secrets and capped (scrubString), every key that logger.ts redacts
 * (`password`, `secret`, `chapSecret`, `credentials`) is censored at any depth, depth is bounded.
 * Compact: the request id once (top level), the context once, nothing pino would add twice.
 * A field it cannot write (a throwing getter in a plugin's facts) is written as `"[unserializable]"`:
 * the line is still written, and the request goes on.
 */
import { pino, type Logger } from 'pino'
import { scrubString } from './log-scrub.js'

const CENSORED: ReadonlySet<string> = new Set(['password', 'secret', 'chapSecret', 'credentials'])
const MAX_DEPTH = 8
const LEVELS = { info: 30, warn: 40 } as const

/** Writes `{"level","time","service","reqId","msg":"decision","decision":{…record without reqId}}`. */
export function logDecision(logger: Logger, level: 'info' | 'warn', record: { readonly reqId: string } & object): void {
  if (!logger.isLevelEnabled(level)) return
  const stream = (logger as unknown as Record<symbol, { write(line: string): void } | undefined>)[pino.symbols.streamSym]
  if (!stream) return logger[level]({ decision: record }, 'decision')
  const parts: string[] = []
  for (const key of Object.keys(record)) {
    if (key === 'reqId') continue
    let text: string
    try {
      const v = (record as Record<string, unknown>)[key]
      if (v === undefined) continue
      text = CENSORED.has(key) ? '"[redacted]"' : json(v, 1)
    } catch {
      text = '"[unserializable]"'
    }
    parts.push(`${JSON.stringify(key)}:${text}`)
  }
  stream.write(`{"level":${LEVELS[level]},"time":${Date.now()},"service":"bootpolicy","reqId":${json(String(record.reqId), 1)},"msg":"decision","decision":{${parts.join(',')}}}\n`)
}

function json(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(scrubString(value))
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null'
    case 'boolean':
      return value ? 'true' : 'false'
    case 'bigint':
      return JSON.stringify(String(value))
    case 'object':
      break
    default:
      return 'null' // undefined, functions, symbols (pino leaves them out; arrays hold null)
  }
  if (value === null) return 'null'
  if (depth >= MAX_DEPTH) return '"[too deep]"'
  if (Array.isArray(value)) return `[${value.map((v) => json(v, depth + 1)).join(',')}]`
  const toJSON = (value as { toJSON?: unknown }).toJSON
  if (typeof toJSON === 'function') return json(toJSON.call(value), depth + 1)
  const parts: string[] = []
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue
    const v = (value as Record<string, unknown>)[key]
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue
    parts.push(`${JSON.stringify(scrubString(key))}:${CENSORED.has(key) ? '"[redacted]"' : json(v, depth + 1)}`)
  }
  return `{${parts.join(',')}}`
}
