/**
 * /api/machines — the machine timeline over HTTP (docs/reference/timeline.md). Admin token or operator session.
 * GET /api/machines lists known machines (pages: `?limit=&offset=`); GET
 * /api/machines/<mac>/timeline one machine's events oldest first (pages: `?after=<seq>&limit=`);
 * GET /api/machines/events a Server-Sent Events live tail (`?mac=` for one machine). An SSE client
 * that does not read is dropped once 64 KiB wait for it, so it cannot make the server buffer more;
 * an operator's tail ends at its next write (event or 15 s heartbeat) once the session has ended.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { BootpolicyError } from '../../errors/bp-error.js'
import { normalMac } from '../../timeline/event-fields.js'
import type { TimelineReader } from '../../timeline/timeline-reader.js'
import { type ApiAccess, requireCaller, requireCallerSession } from '../admin-auth.js'
import { sendError } from '../send-error.js'

/** Bytes an SSE client may leave unread before it is dropped. */
export const SSE_MAX_BUFFERED = 64 * 1024
const SSE_HEARTBEAT_MS = 15_000
const MAX_LIMIT = 1000

export function registerMachineRoutes(app: FastifyInstance, timeline: TimelineReader, access: ApiAccess): void {
  app.get('/api/machines', async (req, reply) => {
    if (!requireCaller(req, reply, access)) return reply
    const q = queryOf(req)
    const limit = intParam(q, 'limit', 100, 1, MAX_LIMIT)
    const offset = intParam(q, 'offset', 0, 0, Number.MAX_SAFE_INTEGER)
    if (limit === undefined || offset === undefined) return badQuery(reply)
    const read = await timeline.machines({ limit, offset }).catch(unavailable)
    if (read instanceof BootpolicyError) return sendError(reply, read)
    const { total, machines } = read
    return { total, offset, machines, ...(offset + limit < total && { nextOffset: offset + limit }) }
  })

  app.get<{ Params: { machine: string } }>('/api/machines/:machine/timeline', async (req, reply) => {
    if (!requireCaller(req, reply, access)) return reply
    const q = queryOf(req)
    const limit = intParam(q, 'limit', 200, 1, MAX_LIMIT)
    const after = intParam(q, 'after', -1, -1, Number.MAX_SAFE_INTEGER)
    if (limit === undefined || after === undefined) return badQuery(reply)
    const id = machineId(req.params.machine)
    const page = id === undefined ? undefined : await timeline.events(id, { limit, ...(after >= 0 && { after }) }).catch(unavailable)
    if (page instanceof BootpolicyError) return sendError(reply, page)
    if (!page) return sendError(reply, new BootpolicyError('BP_ERR_MACHINE_NOT_FOUND', { machine: req.params.machine.slice(0, 80) }))
    return { machine: page.machine, events: page.events, ...(page.next !== undefined && { next: page.next }) }
  })

  app.get('/api/machines/events', async (req, reply) => {
    const caller = requireCallerSession(req, reply, access)
    if (!caller) return reply
    const { session } = caller
    const only = queryOf(req).get('mac')
    const id = only === null ? undefined : machineId(only)
    if (only !== null && id === undefined) return badQuery(reply)
    reply.hijack()
    const res = reply.raw
    req.raw.socket.setTimeout(0) // the idle timeout would close a quiet tail; the heartbeat keeps it honest
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' })
    res.write(': bootpolicy timeline\n\n')
    const drop = (): void => {
      stop()
      clearInterval(beat)
      res.destroy()
    }
    const send = (chunk: string): void => {
      if (res.destroyed) return
      if (res.writableLength > SSE_MAX_BUFFERED) return drop()
      // An operator's stream ends with the session (logout, absolute lifetime) at the next write.
      if (session && !access.sessions?.stillLive(session)) return drop()
      res.write(chunk)
    }
    const stop = timeline.subscribe((machine, e) => {
      if (id !== undefined && machine !== id) return
      send(`id: ${e.seq}\nevent: ${e.source}\ndata: ${JSON.stringify({ machine, ...e })}\n\n`)
    })
    const beat = setInterval(() => send(': heartbeat\n\n'), SSE_HEARTBEAT_MS)
    beat.unref()
    res.once('close', () => {
      stop()
      clearInterval(beat)
    })
  })
}

/** The shared store's reads fail as BP_ERR_STATE_UNAVAILABLE (503) while its database is away. */
function unavailable(err: unknown): BootpolicyError {
  if (err instanceof BootpolicyError) return err
  throw err
}

/** A MAC in any usual form, or a timeline id such as `ip:10.0.0.5` (bounded, printable). */
function machineId(raw: string): string | undefined {
  const mac = normalMac(raw)
  if (mac) return mac
  return /^ip:[\x21-\x7e]{1,80}$/.test(raw) ? raw : undefined
}

// The app's querystring parser is off (build-app.ts): read the raw query here.
function queryOf(req: FastifyRequest): URLSearchParams {
  const q = req.url.indexOf('?')
  return new URLSearchParams(q === -1 ? '' : req.url.slice(q + 1, q + 1 + 512))
}

function intParam(q: URLSearchParams, name: string, dflt: number, min: number, max: number): number | undefined {
  const v = q.get(name)
  if (v === null) return dflt
  if (!/^-?\d{1,16}$/.test(v)) return undefined
  const n = Number(v)
  return n >= min && n <= max ? n : undefined
}

function badQuery(reply: FastifyReply): FastifyReply {
  return sendError(reply, new BootpolicyError('BP_ERR_MACHINE_QUERY'))
}
