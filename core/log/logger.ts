/**
 * The root pino logger. Redaction is on by default: passwords, CHAP secrets and authorization
 * headers never reach a log line, and neither does the password in a /boot query string (the
 * access log's `url` is rewritten before it is written, its keys decoded by the /boot decoder).
 * Every message, error (its `cause` chain, nested and aggregated errors, stacks) and string field
 * also passes through the secret registry's scrubber and is capped (log-scrub.ts).
 * The default destination is stdout written in the background: a line is written at once when no
 * write is in flight, and the lines logged meanwhile go out together in the next write, so under
 * load many lines share one write and an idle server's lines are never held back (a held-back
 * line is one an operator tailing the log, or a test, waits for); the lines logged in one turn of
 * the event loop reach the writer as one string (coalesced-destination.ts). It is flushed synchronously on
 * exit (pino registers that, fatal exits included) and by flushLogger.
 * Every line is JSON with each key once (log shippers and strict parsers reject or silently pick
 * one of duplicates): a child's binding replaces its parent's of the same name (`service: 'dhcp'`
 * over `service: 'bootpolicy'`), and a logged field that collides with a binding or with `level`,
 * `time` or `msg` is written with a `_` appended (`plugin_`).
 */
import { pino, symbols, type DestinationStream, type Logger } from 'pino'
import { decodedKey, isSecretParam } from '../context/credential-params.js'
import { coalesce } from './coalesced-destination.js'
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

export function stdoutDestination(): DestinationStream {
  return coalesce(pino.destination({ dest: 1, sync: false }))
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

/** Keys a logged object must not repeat, per logger: its bindings and pino's own (recomputed after a setBindings). */
const reservedKeys = new WeakMap<object, { text: string; keys: Set<string> }>()

function reservedOf(logger: Logger): Set<string> {
  const text = (logger as unknown as Record<symbol, string>)[symbols.chindingsSym] ?? ''
  let memo = reservedKeys.get(logger)
  if (memo?.text !== text) reservedKeys.set(logger, (memo = { text, keys: new Set(['level', 'time', 'msg', ...Object.keys(logger.bindings())]) }))
  return memo.keys
}

/** `,"key":"value"` with no escapes: one binding whose key is exactly `key`. */
const ONE_PLAIN_BINDING = /^,"([A-Za-z0-9_$-]+)":"[^"\\]*"$/

/**
 * Keys of a logger's own bindings text, per logger (fastify makes a child per request of the same
 * root), kept with the text they were read from: a setBindings on the parent changes it.
 */
const bindingKeys = new WeakMap<object, { text: string; keys: ReadonlySet<string> }>()

function keysOfBindings(logger: object, text: string): ReadonlySet<string> {
  let memo = bindingKeys.get(logger)
  if (memo?.text !== text) bindingKeys.set(logger, (memo = { text, keys: new Set(text ? Object.keys(JSON.parse(`{${text.slice(1)}}`) as object) : []) }))
  return memo.keys
}

/** A child's bindings are appended to its parent's as text: keep the last of each key. */
function dedupeBindings(child: Logger): void {
  const text = (child as unknown as Record<symbol, string>)[symbols.chindingsSym]
  if (!text) return
  // Fast path (a child per request): only the appended part is parsed; nothing to do when its
  // keys are new to the parent and unique among themselves.
  const parent = Object.getPrototypeOf(child) as Record<symbol, string> | null
  const parentText = parent?.[symbols.chindingsSym]
  if (typeof parentText === 'string' && text.startsWith(parentText) && text.length > parentText.length) {
    // The common child, one plain string binding (fastify's `reqId`), is recognized without a parse.
    const one = ONE_PLAIN_BINDING.exec(text.slice(parentText.length))
    if (one && !keysOfBindings(parent!, parentText).has(one[1]!)) return
    const added = JSON.parse(`{${text.slice(parentText.length + 1)}}`) as Record<string, unknown>
    const keys = Object.keys(added)
    const known = keysOfBindings(parent!, parentText)
    if (!keys.some((k) => known.has(k)) && JSON.stringify(added).length === text.length - parentText.length + 1) return
  }
  const parsed = JSON.parse(`{${text.slice(1)}}`) as Record<string, unknown>
  const once = JSON.stringify(parsed).slice(1, -1)
  if (once.length + 1 !== text.length) (child as unknown as Record<symbol, string>)[symbols.chindingsSym] = once ? `,${once}` : ''
}

/** A request id that JSON writes as it is (fastify's here are 10 hex digits, build-app.ts). */
const PLAIN_ID = /^[A-Za-z0-9_-]{1,64}$/

/**
 * fastify's childLoggerFactory: the per-request child, whose one binding is `reqId`. When that id
 * is plain text the parent does not bind already, the child is made as pino's child() makes it
 * (an object inheriting from the parent, its bindings text extended by `,"reqId":"<id>"`) without
 * running the id through the wildcard redaction paths' stringifier and dedupeBindings: ~3 µs of
 * every request (bare fastify's whole /boot costs ~25 µs of main thread). Anything else: child().
 */
export function requestChildLogger(logger: Logger, bindings: Record<string, unknown>, options: object): Logger {
  const id = bindings.reqId
  const parentText = (logger as unknown as Record<symbol, unknown>)[symbols.chindingsSym]
  let only = true
  for (const k in bindings) if (k !== 'reqId') only = false
  for (const _ in options) only = false
  if (!only || typeof id !== 'string' || typeof parentText !== 'string' || !PLAIN_ID.test(id) || keysOfBindings(logger, parentText).has('reqId')) return logger.child(bindings, options)
  const child = Object.create(logger) as Logger
  ;(child as unknown as Record<symbol, string>)[symbols.chindingsSym] = `${parentText},"reqId":"${id}"`
  return child
}

/** `obj` with every key that collides with `reserved` renamed (`key_`, `key__`, …). */
function withoutCollisions(obj: Record<string, unknown>, reserved: Set<string>, keepMsg: boolean): Record<string, unknown> {
  let hit = false
  for (const k in obj) if (reserved.has(k) && !(keepMsg && k === 'msg')) hit = true
  if (!hit) return obj
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(obj)) {
    let key = k
    if (!(keepMsg && k === 'msg')) while (reserved.has(key) || (key !== k && key in obj)) key += '_'
    out[key] = v
  }
  return out
}

/** Where a silent logger writes: nowhere, and no background writer on stdout is opened for it. */
const nowhere: DestinationStream = { write: () => undefined }

export function createLogger(level: string, destination: DestinationStream = level === 'silent' ? nowhere : stdoutDestination()): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers,
      base: { service: 'bootpolicy' },
      onChild: dedupeBindings,
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
          if (first && typeof first === 'object' && !(first instanceof Error)) {
            // Without a message argument pino writes the object's own `msg` once: keep it.
            args[0] = withoutCollisions(first as Record<string, unknown>, reservedOf(this), args.length < 2) as never
          }
          return method.apply(this, args)
        },
      },
    },
    destination,
  )
}
