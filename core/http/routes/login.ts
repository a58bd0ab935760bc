/**
 * POST /api/login and POST /api/logout — operator sessions for the intents and machines API
 * (docs/reference/http-api.md#operator-sessions). The password goes to the auth plugins' authenticate
 * hook through the plugin host, so the login limiter (local and, on PostgreSQL, shared) holds a
 * burst exactly as it does for iPXE logins, and the password is scrubbed from every log line while a
 * backend holds it. Only users named in http.operators, or members of a group named there, get a
 * session; anybody else gets the same 401 as a wrong password (no oracle for directory passwords).
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { OperatorSessions } from '../../auth/operator-sessions.js'
import type { Config } from '../../config/config-types.js'
import type { BootContext, Principal } from '../../context/types.js'
import { MAX_PASSWORD_BYTES, USERNAME_PATTERN } from '../../context/text-fields.js'
import { BootpolicyError } from '../../errors/bp-error.js'
import type { PluginHost } from '../../plugins/plugin-host.js'
import { bearerOf } from '../admin-auth.js'
import { sendError } from '../send-error.js'

/** A login body is two short strings: anything near this is hostile. */
const LOGIN_BODY_LIMIT = 4096

type Operators = Config['http']['operators']

/** Whether a principal is an operator: its name, or one of its groups, is listed (exact match). */
export function isOperator(p: Principal, operators: Operators): boolean {
  return operators.users.includes(p.name) || p.groups.some((g) => operators.groups.includes(g))
}

function bad(details: string): BootpolicyError {
  return new BootpolicyError('BP_ERR_HTTP_BAD_REQUEST', { details })
}

/** The body's user and password, checked; errors never quote either. */
function credentialsOf(body: unknown): { username: string; password: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('expected a JSON object {"user": "…", "password": "…"}')
  const b = body as Record<string, unknown>
  if (Object.keys(b).some((k) => k !== 'user' && k !== 'password')) throw bad('only "user" and "password" are allowed')
  if (typeof b.user !== 'string' || !USERNAME_PATTERN.test(b.user)) throw bad('user: 1-64 letters, digits, ".", "_", "@" or "-", starting with a letter, digit or "_"')
  if (typeof b.password !== 'string' || b.password === '') throw bad('password must be a non-empty string')
  if (Buffer.byteLength(b.password) > MAX_PASSWORD_BYTES || b.password.includes('\u0000')) throw bad(`password: at most ${MAX_PASSWORD_BYTES} bytes, no NUL`)
  return { username: b.user, password: b.password }
}

export function registerLoginRoutes(app: FastifyInstance, host: PluginHost, operators: Operators, sessions: OperatorSessions | undefined): void {
  const off = (reply: FastifyReply): FastifyReply | undefined => {
    if (!host.canAuthenticate) return sendError(reply, new BootpolicyError('BP_ERR_HTTP_LOGIN_DISABLED', { details: 'no auth plugin is loaded' }))
    if (!sessions) return sendError(reply, new BootpolicyError('BP_ERR_HTTP_LOGIN_DISABLED', { details: 'http.operators names nobody' }))
    return undefined
  }

  app.post('/api/login', { bodyLimit: LOGIN_BODY_LIMIT }, async (req, reply) => {
    reply.header('cache-control', 'no-store')
    if (off(reply) || !sessions) return reply
    let credentials
    try {
      credentials = credentialsOf(req.body)
    } catch (err) {
      return sendError(reply, err as BootpolicyError)
    }
    // The authenticate hook reads a boot context; an API login has only its peer address.
    const ctx: BootContext = { arch: 'unknown', remoteAddress: req.ip, params: {}, auth: { status: 'none' }, plugins: {}, dropped: [] }
    const outcome = await host.verify(ctx, credentials, [])
    credentials = undefined
    const { auth } = outcome
    const log = { username: auth.username, remoteAddress: req.ip }
    if (outcome.failure === 'limited') {
      reply.header('retry-after', String(outcome.retryInS ?? 1))
      return sendError(reply, new BootpolicyError('BP_ERR_HTTP_LOGIN_LIMITED', { retryInS: outcome.retryInS ?? 1 }))
    }
    if (outcome.failure === 'unavailable') {
      req.log.warn({ ...log, reason: auth.reason }, 'operator login unavailable')
      return sendError(reply, new BootpolicyError('BP_ERR_HTTP_LOGIN_UNAVAILABLE', { details: auth.reason ?? 'authentication service unavailable' }))
    }
    if (auth.status !== 'authenticated' || !auth.principal) {
      req.log.warn({ ...log, reason: auth.reason }, 'operator login refused')
      return sendError(reply, new BootpolicyError('BP_ERR_HTTP_LOGIN_FAILED'))
    }
    if (!isOperator(auth.principal, operators)) {
      req.log.warn({ ...log, reason: 'not an operator', source: auth.principal.source }, 'operator login refused')
      return sendError(reply, new BootpolicyError('BP_ERR_HTTP_LOGIN_FAILED'))
    }
    const { token, session } = sessions.create(auth.principal.name)
    req.log.info({ operator: session.user, source: auth.principal.source, remoteAddress: req.ip }, 'operator logged in')
    return {
      token,
      user: session.user,
      expiresAt: new Date(session.expiresAt).toISOString(),
      idleTimeoutS: Math.round(sessions.limits.idleMs / 1000),
    }
  })

  app.post('/api/logout', async (req, reply) => {
    reply.header('cache-control', 'no-store')
    if (off(reply) || !sessions) return reply
    const token = bearerOf(req)
    if (token === undefined || !sessions.end(token)) return sendError(reply, new BootpolicyError('BP_ERR_HTTP_LOGIN_FAILED'))
    return reply.code(204).send()
  })
}
