/**
 * The admin check of the /api endpoints that change or reveal machine state: off (404) unless
 * http.adminToken is set, else `Authorization: Bearer <token>` compared in constant time. It
 * answers who is calling, for the record of who armed an intent.
 */
import { timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { BootpolicyError } from '../errors/bp-error.js'
import { sendError } from './send-error.js'

/** `admin token` when the caller may proceed; otherwise the error is sent and undefined returned. */
export function requireAdmin(req: FastifyRequest, reply: FastifyReply, adminToken: string | undefined): string | undefined {
  if (!adminToken) {
    sendError(reply, new BootpolicyError('BP_ERR_HTTP_DISABLED'))
    return undefined
  }
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')
  const given = Buffer.from(m?.[1] ?? '')
  const expected = Buffer.from(adminToken)
  if (!m || given.length !== expected.length || !timingSafeEqual(given, expected)) {
    sendError(reply, new BootpolicyError('BP_ERR_HTTP_UNAUTHORIZED'))
    return undefined
  }
  return 'admin token'
}
