/**
 * Answer one read request whose options are already negotiated: a virtual file from a plugin if
 * one is offered, else a regular file inside the root, streamed. Every failure ends as a TFTP
 * ERROR packet to that one client and a log line; nothing here may throw into the event loop,
 * because one bad transfer must never take the service (or the process) down.
 */
import type { Logger } from 'pino'
import { BootpolicyError, messageOf } from '../errors/bp-error.js'
import type { SafePathReason } from '../files/resolve-safe-path.js'
import { openSafeFile } from '../files/open-safe-file.js'
import { TFTP_MESSAGES, declineTsize, type PackageGetStream, type PackagePutStream } from './tftp-package.js'

export interface TftpClient {
  address: string
  port: number
}

/** Plugins generate files (e.g. pxelinux.cfg/01-<mac>) here. `undefined` means "not mine, try the disk". */
export type VirtualFileProvider = (path: string, client: TftpClient) => Promise<Buffer | undefined>

export interface ServeOptions {
  root: string
  virtualFile: VirtualFileProvider | undefined
  virtualFileTimeoutMs: number
  log: Logger
}

const TIMED_OUT = Symbol('timed out')

/** What the client is told for each refusal. Messages map to RFC codes 1 and 2 inside the package. */
const REFUSAL_MESSAGE: Record<SafePathReason, string> = {
  'not-found': TFTP_MESSAGES.notFound,
  'not-a-file': TFTP_MESSAGES.notFound,
  invalid: TFTP_MESSAGES.accessViolation,
  traversal: TFTP_MESSAGES.accessViolation,
  forbidden: TFTP_MESSAGES.accessViolation,
}

export async function serveFile(req: PackageGetStream, res: PackagePutStream, file: string, client: TftpClient, options: ServeOptions): Promise<number | undefined> {
  const { log } = options
  if (options.virtualFile) {
    const generated = await callProvider(options.virtualFile, file, client, options.virtualFileTimeoutMs, log)
    if (generated === 'failed') return refuse(req, 'Internal error')
    if (generated !== undefined) {
      log.debug({ request: { file }, bytes: generated.length }, 'tftp serving virtual file')
      // setSize(0) makes the package send one empty DATA block on end(); end() takes no data then.
      if (generated.length === 0) {
        declineTsize(res)
        res.setSize(0)
        res.end()
      } else {
        res.setSize(generated.length)
        res.end(generated)
      }
      return generated.length
    }
  }

  // Opened once and verified (see core/files/open-safe-file.ts); reads come from this descriptor only.
  const opened = await openSafeFile(options.root, file)
  if (!opened.ok) {
    if (opened.reason === 'changed') {
      log.warn({ request: { file }, err: opened.cause }, 'tftp file changed under the request')
      return refuse(req, TFTP_MESSAGES.accessViolation)
    }
    const level = opened.reason === 'traversal' || opened.reason === 'invalid' ? 'warn' : 'info'
    log[level]({ request: { file }, reason: opened.reason }, 'tftp request refused')
    return refuse(req, REFUSAL_MESSAGE[opened.reason])
  }
  const { handle } = opened
  const size = opened.stat.size

  if (size === 0) {
    await handle.close().catch(() => undefined)
    declineTsize(res)
    res.setSize(0)
    res.end()
    return 0
  }
  res.setSize(size)
  // 64 KiB reads: large enough to keep a 4-block window of 1468 bytes busy, small enough that 100
  // transfers hold well under 10 MiB. Reads stop exactly at `size`, the size announced in tsize.
  const stream = handle.createReadStream({ start: 0, end: size - 1, highWaterMark: 64 * 1024 })
  stream.on('error', (err) => {
    log.warn({ request: { file }, err }, 'tftp read error')
    req.abort('I/O error')
  })
  // The client may vanish or abort mid-transfer: stop reading and release the descriptor.
  req.on('close', () => stream.destroy())
  stream.pipe(res)
  return size
}

function refuse(req: PackageGetStream, message: string): undefined {
  req.abort(message)
  return undefined
}

/**
 * Call a plugin's provider with a deadline. Returns the buffer, `undefined` (fall through to disk)
 * or 'failed' (it threw, timed out or returned something that is not a Buffer) — already logged.
 */
async function callProvider(provider: VirtualFileProvider, file: string, client: TftpClient, timeoutMs: number, log: Logger): Promise<Buffer | undefined | 'failed'> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs)
  })
  try {
    // Promise.resolve().then(): a provider that throws synchronously is contained like one that rejects.
    const result = await Promise.race([Promise.resolve().then(() => provider(file, { ...client })), deadline])
    if (result === TIMED_OUT) {
      const err = new BootpolicyError('BP_ERR_TFTP_VIRTUAL_FILE', { file, details: `no answer within ${timeoutMs} ms` })
      log.error({ request: { file }, err }, 'tftp virtual file provider failed')
      return 'failed'
    }
    if (result !== undefined && !Buffer.isBuffer(result)) {
      const err = new BootpolicyError('BP_ERR_TFTP_VIRTUAL_FILE', { file, details: `returned ${typeof result}, not a Buffer` })
      log.error({ request: { file }, err }, 'tftp virtual file provider failed')
      return 'failed'
    }
    return result
  } catch (cause) {
    const err = new BootpolicyError('BP_ERR_TFTP_VIRTUAL_FILE', { file, details: messageOf(cause) }, { cause })
    log.error({ request: { file }, err }, 'tftp virtual file provider failed')
    return 'failed'
  } finally {
    clearTimeout(timer)
  }
}
