import type { FastifyReply } from 'fastify'
import type { BootpolicyError } from '../errors/bp-error.js'

/** JSON error body for non-boot endpoints: code and message, never a stack. */
export function sendError(reply: FastifyReply, err: BootpolicyError): FastifyReply {
  return reply
    .code(err.statusCode ?? 500)
    .type('application/json')
    .send({ code: err.code, message: err.message, reqId: reply.request.id })
}
