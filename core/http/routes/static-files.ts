/**
 * GET/HEAD /files/* — read-only boot files with Content-Length and single-range support
 * (iPXE and pxelinux fetch kernels and initrds here). Traversal is refused by the resolver the
 * TFTP service uses too: `..`, encoded or not, NUL, and symlinks that leave the root. The file is
 * opened once (openSafeFile) and streamed from that descriptor, so a symlink swapped in after the
 * check is never followed; the descriptor is closed on every path (HEAD, empty, range error, abort).
 */
import type { FastifyInstance } from 'fastify'
import { checkRelativePath } from '../../files/resolve-safe-path.js'
import { openSafeFile } from '../../files/open-safe-file.js'
import { BootpolicyError } from '../../errors/bp-error.js'
import { sendError } from '../send-error.js'

/** Plugin-generated files (pxelinux.cfg/…), consulted before the disk. */
export type HttpVirtualFile = (path: string, clientAddress: string) => Promise<Buffer | undefined>

/** Told of every download's end (the machine timeline); must not throw or block. */
export type OnDownload = (d: { address: string; file: string; bytes: number; size: number; completed: boolean }) => void

export function registerStaticFiles(app: FastifyInstance, root: string | undefined, virtualFile?: HttpVirtualFile, onDownload?: OnDownload): void {
  app.route({
    method: ['GET', 'HEAD'],
    url: '/files/*',
    handler: async (req, reply) => {
      // The router has already percent-decoded the path once; decoding again would turn %252e into '.'.
      const requested = (req.params as { '*': string })['*']
      if (virtualFile && checkRelativePath(requested).ok) {
        const generated = await virtualFile(requested, req.ip)
        if (generated) {
          reply.header('Content-Type', 'text/plain; charset=utf-8').header('Cache-Control', 'no-store').header('Content-Length', String(generated.length))
          return reply.send(req.method === 'HEAD' ? undefined : generated)
        }
      }
      if (!root) return sendError(reply, new BootpolicyError('BP_ERR_HTTP_NOT_FOUND'))
      const found = await openSafeFile(root, requested)
      if (!found.ok) {
        if (found.reason === 'changed') req.log.warn({ request: { file: requested } }, 'file changed between check and open; refused')
        const code = found.reason === 'not-found' || found.reason === 'not-a-file' ? 'BP_ERR_HTTP_NOT_FOUND' : 'BP_ERR_HTTP_FORBIDDEN_PATH'
        return sendError(reply, new BootpolicyError(code))
      }
      const { handle } = found
      const size = found.stat.size
      reply.header('Accept-Ranges', 'bytes').header('Content-Type', 'application/octet-stream')
      reply.header('Last-Modified', found.stat.mtime.toUTCString())
      const range = parseRange(req.headers.range, size)
      if (range === 'invalid') {
        await handle.close().catch(() => undefined)
        reply.header('Content-Range', `bytes */${size}`)
        return sendError(reply, new BootpolicyError('BP_ERR_HTTP_RANGE'))
      }
      const [start, end] = range ?? [0, size - 1]
      if (range) reply.code(206).header('Content-Range', `bytes ${start}-${end}/${size}`)
      reply.header('Content-Length', String(size === 0 ? 0 : end - start + 1))
      if (req.method === 'HEAD' || size === 0) {
        await handle.close().catch(() => undefined)
        return reply.send()
      }
      // autoClose (the default) closes the descriptor when the stream ends, errors or is destroyed,
      // and fastify destroys it when the client goes away mid-transfer.
      const stream = handle.createReadStream({ start, end })
      if (onDownload) {
        const length = end - start + 1
        // 'close' on the response comes on both paths; writableFinished says whether it all went out.
        reply.raw.once('close', () => onDownload({ address: req.ip, file: requested, bytes: reply.raw.writableFinished ? length : stream.bytesRead, size, completed: reply.raw.writableFinished }))
      }
      return reply.send(stream)
    },
  })
}

/** One `bytes=a-b`, `bytes=a-` or `bytes=-n` range; multi-range requests get the whole file. */
export function parseRange(header: string | undefined, size: number): [number, number] | undefined | 'invalid' {
  if (!header) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!m) return undefined
  const [, a, b] = m
  if (a === '' && b === '') return undefined
  let start: number
  let end: number
  if (a === '') {
    const n = Number(b)
    if (n === 0) return 'invalid'
    start = Math.max(0, size - n)
    end = size - 1
  } else {
    start = Number(a)
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1)
  }
  if (start >= size || start > end) return 'invalid'
  return [start, end]
}
