/**
 * The root pino logger. Redaction is on by default: passwords, CHAP secrets and authorization
 * headers never reach a log line, and neither does the password in a /boot query string (the
 * access log's `url` is rewritten before it is written).
 */
import { pino, type DestinationStream, type Logger } from 'pino'

const SECRET_PARAM = /^(password|password_hex|secret|chap[-_]?secret|chap[-_]?password|token)$/i

export const REDACT_PATHS = [
  'password',
  '*.password',
  'secret',
  '*.secret',
  'chapSecret',
  '*.chapSecret',
  '*.*.chapSecret',
  'credentials',
  '*.credentials',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
]

/** Replace the values of secret-bearing query parameters with `[redacted]`. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?')
  if (q === -1) return url
  const pairs = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=')
      const key = eq === -1 ? pair : pair.slice(0, eq)
      let name = key
      try {
        name = decodeURIComponent(key)
      } catch {
        // keep the raw key
      }
      return SECRET_PARAM.test(name) ? `${key}=[redacted]` : pair
    })
  return `${url.slice(0, q)}?${pairs.join('&')}`
}

interface RequestLike {
  method?: string
  url?: string
  ip?: string
  id?: string
  headers?: Record<string, unknown>
}

export const serializers = {
  req(req: RequestLike) {
    return {
      method: req.method,
      url: req.url ? redactUrl(req.url) : req.url,
      remoteAddress: req.ip,
      userAgent: req.headers?.['user-agent'],
    }
  },
  err: pino.stdSerializers.err,
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers,
      base: { service: 'bootpolicy' },
    },
    destination,
  )
}
