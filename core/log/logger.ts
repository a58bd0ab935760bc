/**
 * The root pino logger. Redaction is on by default: passwords, CHAP secrets and authorization
 * headers never reach a log line, and neither does the password in a /boot query string (the
 * access log's `url` is rewritten before it is written, its keys decoded by the /boot decoder).
 * Every message, error (its `cause` chain, nested and aggregated errors, stacks) and string field
 * also passes through the secret registry's scrubber and is capped (log-scrub.ts).
 * The default destination is stdout written in the background (one write per LOG_CHUNK bytes, not
 * one per line, at least every LOG_FLUSH_MS): the decision log costs a request little. It is
 * flushed synchronously on exit (pino registers that, fatal exits included) and by flushLogger.
 */
import { pino, type DestinationStream, type Logger } from 'pino'
import { decodedKey, isSecretParam } from '../context/credential-params.js'
import { scrubString, scrubValue, serializeError } from './log-scrub.js'

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
      return isSecretParam(decodedKey(pair)) ? `${key}=[redacted]` : pair
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
      url: req.url ? scrubString(redactUrl(req.url)) : req.url,
      remoteAddress: req.ip,
      userAgent: scrubValue(req.headers?.['user-agent']),
    }
  },
  // Already-serialized values (log-scrub walks objects first) pass through unchanged.
  err: (err: unknown) => (err instanceof Error ? serializeError(err) : err),
}

/** Bytes gathered before one write; and the longest a line waits when traffic is low. */
export const LOG_CHUNK = 4096
export const LOG_FLUSH_MS = 250

export function stdoutDestination(): DestinationStream {
  return pino.destination({ dest: 1, sync: false, minLength: LOG_CHUNK, periodicFlush: LOG_FLUSH_MS })
}

/** Resolves once every line logged so far has been written (its destination's flush, when it has one). */
export function flushLogger(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    try {
      logger.flush(() => resolve())
    } catch {
      resolve() // a destination that cannot flush (destroyed, or never opened) has nothing left to write
    }
  })
}

export function createLogger(level: string, destination: DestinationStream = stdoutDestination()): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers,
      base: { service: 'bootpolicy' },
      formatters: {
        // Every field, nested or not: secrets scrubbed, strings capped, errors serialized.
        log: (obj) => scrubValue(obj) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          const [first] = args as unknown[]
          // Messages are constants: only trusted secrets are scrubbed from them (a client's
          // password must not blank `decision` or `BPSEC002`)...
          for (let i = 0; i < args.length; i++) if (typeof args[i] === 'string') args[i] = scrubString(args[i] as string, true) as never
          // ...except the message pino takes from an error when none is given: that one is error text.
          const err = first instanceof Error ? first : (first as { err?: unknown } | null)?.err
          if (args.length === 1 && err instanceof Error) {
            let message = ''
            try {
              message = String(err.message)
            } catch {
              // a hostile getter: no message
            }
            args.push(scrubString(message) as never)
          }
          return method.apply(this, args)
        },
      },
    },
    destination,
  )
}
