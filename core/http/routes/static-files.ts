/**
 * GET/HEAD /files/* — read-only boot files with Content-Length and single-range support
 * (iPXE and pxelinux fetch kernels and initrds here). Traversal is refused by the resolver the
 * TFTP service uses too: `..`, encoded or not, NUL, and symlinks that leave the root. The file is
 * opened once (openSafeFile) and its bytes come from that descriptor only — read whole into the
 * bounded file cache (one Buffer shared by every client: Node has no sendfile, and this is what
 * keeps 200 parallel downloads near nginx's speed), or streamed when it is too large to cache — so
 * a symlink swapped in after the check is never followed. The descriptor is closed on every path
 * (HEAD, empty, range error, cached, abort).
 * Large bodies pass admission control first (core/files/admission.ts): over the limit the client
 * gets 503 + Retry-After, and an admitted body holds its slot until its response closes.
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Config } from '../../config/config-types.js'
import { createAdmission, type Admission } from '../../files/admission.js'
import { createFileCache, type FileCache } from '../../files/file-cache.js'
import { checkRelativePath } from '../../files/resolve-safe-path.js'
import { openSafeFile } from '../../files/open-safe-file.js'
import { BootpolicyError } from '../../errors/bp-error.js'
import { sendError } from '../send-error.js'

/** Plugin-generated files (pxelinux.cfg/…), consulted before the disk. */
export type HttpVirtualFile = (path: string, clientAddress: string) => Promise<Buffer | undefined>

/** Told of every download's end (the machine timeline); must not throw or block. */
export type OnDownload = (d: { address: string; file: string; bytes: number; size: number; completed: boolean }) => void

export interface StaticFiles {
  readonly cache: FileCache
  readonly admission: Admission
}

export function registerStaticFiles(app: FastifyInstance, files: Config['files'], virtualFile?: HttpVirtualFile, onDownload?: OnDownload): StaticFiles {
  const root = files.dir
  const cache = createFileCache(files.cache)
  const admission = createAdmission(files.admission)
  const { minBytes } = files.admission
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
      const range = parseRange(req.headers.range, size)
      if (range === 'invalid') {
        await handle.close().catch(() => undefined)
        reply.header('Content-Range', `bytes */${size}`)
        return sendError(reply, new BootpolicyError('BP_ERR_HTTP_RANGE'))
      }
      const [start, end] = range ?? [0, size - 1]
      const length = size === 0 ? 0 : end - start + 1
      if (req.method === 'HEAD' || length === 0) {
        await handle.close().catch(() => undefined)
        setFileHeaders(reply, found.stat.mtime, range && [start, end, size], length)
        return reply.send()
      }
      let release: (() => void) | undefined
      if (length >= minBytes) {
        release = admission.tryAcquire()
        if (!release) {
          await handle.close().catch(() => undefined)
          reply.header('Retry-After', String(admission.retryAfter()))
          return sendError(reply, new BootpolicyError('BP_ERR_HTTP_BUSY'))
        }
        // 'close' fires once the response is sent, failed, or the client went away mid-body.
        reply.raw.once('close', release)
      }
      setFileHeaders(reply, found.stat.mtime, range && [start, end, size], length)
      let stream: ReturnType<typeof handle.createReadStream> | undefined
      if (onDownload) {
        // 'close' on the response comes on every path; writableFinished says whether it all went out.
        // Aborted: what was read from disk (streamed) or handed to the socket (cached), an upper bound.
        reply.raw.once('close', () => {
          const completed = reply.raw.writableFinished
          const bytes = completed ? length : stream ? stream.bytesRead : Math.max(0, length - reply.raw.writableLength)
          onDownload({ address: req.ip, file: requested, bytes, size, completed })
        })
      }
      let cached: Buffer | undefined
      try {
        cached = await cache.read(handle, found.stat)
      } catch {
        cached = undefined
      }
      if (cached) {
        await handle.close().catch(() => undefined)
        return reply.send(cached.subarray(start, end + 1))
      }
      // Too large to cache: stream from the checked descriptor in 1 MiB reads. autoClose (the
      // default) closes it when the stream ends, errors or is destroyed, and fastify destroys it
      // when the client goes away mid-transfer.
      stream = handle.createReadStream({ start, end, highWaterMark: 1024 * 1024 })
      return reply.send(stream)
    },
  })
  return { cache, admission }
}

function setFileHeaders(reply: FastifyReply, mtime: Date, range: [number, number, number] | undefined, length: number): void {
  reply.header('Accept-Ranges', 'bytes').header('Content-Type', 'application/octet-stream')
  reply.header('Last-Modified', mtime.toUTCString())
  if (range) reply.code(206).header('Content-Range', `bytes ${range[0]}-${range[1]}/${range[2]}`)
  reply.header('Content-Length', String(length))
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
