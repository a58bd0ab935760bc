/**
 * The checks of the /api endpoints that change or reveal machine state. `requireAdmin`: the admin
 * token only (POST /api/explain). `requireCaller`: the admin token or a live operator session
 * (intents, machines). Off (404) when nothing could pass. `Authorization: Bearer <token>`; the
 * admin token is compared in constant time (as SHA-256 digests, so its length does not show
 * either). Both answer who is calling, for the record of who armed an intent.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { OperatorSession, OperatorSessions } from '../auth/operator-sessions.js'
import { BootpolicyError } from '../errors/bp-error.js'
import { sendError } from './send-error.js'

/** Who may call the operator endpoints: the admin token, and sessions when operators may log in. */
export interface ApiAccess {
  readonly adminToken?: string
  /** Present only when an auth plugin is loaded and http.operators names someone. */
  readonly sessions?: OperatorSessions
}

/** The bearer token of a request, or undefined. */
export function bearerOf(req: FastifyRequest): string | undefined {
  return /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
}

function isAdminToken(given: string, adminToken: string): boolean {
  const sha = (s: string) => createHash('sha256').update(s).digest()
  return timingSafeEqual(sha(given), sha(adminToken))
}

/** `admin token` when the caller may proceed; otherwise the error is sent and undefined returned. */
export function requireAdmin(req: FastifyRequest, reply: FastifyReply, adminToken: string | undefined): string | undefined {
  if (!adminToken) {
    sendError(reply, new BootpolicyError('BP_ERR_HTTP_DISABLED'))
    return undefined
  }
  const given = bearerOf(req)
  if (given === undefined || !isAdminToken(given, adminToken)) {
    sendError(reply, new BootpolicyError('BP_ERR_HTTP_UNAUTHORIZED'))
    return undefined
  }
  return 'admin token'
}

/** `admin token` or `operator:<user>` when the caller may proceed; otherwise the error is sent. */
export function requireCaller(req: FastifyRequest, reply: FastifyReply, access: ApiAccess): string | undefined {
  return requireCallerSession(req, reply, access)?.via
}

/** requireCaller, with the operator's session (for a long-lived request that must end with it). */
export function requireCallerSession(req: FastifyRequest, reply: FastifyReply, access: ApiAccess): { via: string; session?: OperatorSession } | undefined {
  if (!access.adminToken && !access.sessions) {
    sendError(reply, new BootpolicyError('BP_ERR_HTTP_DISABLED'))
    return undefined
  }
  const given = bearerOf(req)
  if (given !== undefined) {
    if (access.adminToken && isAdminToken(given, access.adminToken)) return { via: 'admin token' }
    const session = access.sessions?.use(given)
    if (session) return { via: `operator:${session.user}`, session }
  }
  sendError(reply, new BootpolicyError('BP_ERR_HTTP_UNAUTHORIZED'))
  return undefined
}
