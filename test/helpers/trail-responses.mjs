/**
 * Preloaded by scripts/test.sh (NODE_OPTIONS=--import) when BP_TEST_TRAIL is set: keeps the body
 * of every HTTP response any test process sends — fastify's inject() responses too, they are
 * http.ServerResponse objects — so that the secret-trail checker sees responses and metrics.
 * Plain JavaScript: it loads before tap's TypeScript loader. At most 64 KiB a response is kept.
 */
import { ServerResponse } from 'node:http'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

const dir = process.env.BP_TEST_TRAIL
const MAX = 64 * 1024

if (dir) {
  const bodies = []
  const chunksOf = new WeakMap()
  const keep = (res, chunk) => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return
    let parts = chunksOf.get(res)
    if (!parts) {
      parts = { size: 0, list: [] }
      chunksOf.set(res, parts)
      res.once('finish', () => bodies.push(parts.list.join('')))
    }
    if (parts.size >= MAX) return
    const room = MAX - parts.size
    // Only what fits is converted: a streamed 100 MB boot file costs 64 KiB here, not 100 MB.
    const text = typeof chunk === 'string' ? chunk.slice(0, room) : ArrayBuffer.isView(chunk) ? Buffer.from(chunk.buffer, chunk.byteOffset, Math.min(chunk.byteLength, room)).toString('utf8') : ''
    parts.list.push(text)
    parts.size += text.length
  }
  const { write, end } = ServerResponse.prototype
  ServerResponse.prototype.write = function (chunk, encoding, cb) {
    try {
      keep(this, chunk)
    } catch {
      // never break a response for the trail
    }
    return write.call(this, chunk, encoding, cb)
  }
  ServerResponse.prototype.end = function (chunk, encoding, cb) {
    try {
      keep(this, chunk)
    } catch {
      // never break a response for the trail
    }
    return end.call(this, chunk, encoding, cb)
  }
  process.once('exit', () => {
    if (bodies.length) writeFileSync(join(dir, `responses-${process.pid}.txt`), `${bodies.join('\n')}\n`)
  })
}
