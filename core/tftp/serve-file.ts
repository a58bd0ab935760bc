/**
 * Find what one read request is answered with: a virtual file from a plugin if one is offered,
 * else a regular file inside the root — from the bounded file cache when it fits (one Buffer shared
 * by every transfer of a hot boot file such as ipxe.efi), else its checked, open descriptor. Every
 * failure becomes a TFTP error code and message for that one client plus a log line; nothing here
 * throws, because one bad request must never take the service (or the process) down.
 */
import type { FileHandle } from 'node:fs/promises'
import type { Logger } from 'pino'
import { BootpolicyError, messageOf } from '../errors/bp-error.js'
import type { FileCache } from '../files/file-cache.js'
import type { SafePathReason } from '../files/resolve-safe-path.js'
import { openSafeFile } from '../files/open-safe-file.js'

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
  cache: FileCache
  log: Logger
}

/** In memory (virtual or cached), or an open descriptor the caller must close; or a refusal. */
export type ResolvedFile = { ok: true; data: Buffer } | { ok: true; handle: FileHandle; size: number } | { ok: false; code: number; message: string }

const TIMED_OUT = Symbol('timed out')
const NOT_FOUND = { ok: false, code: 1, message: 'File not found' } as const
const ACCESS = { ok: false, code: 2, message: 'Access violation' } as const
const INTERNAL = { ok: false, code: 0, message: 'Internal error' } as const

/** What the client is told for each refusal (RFC 1350 codes 1 and 2). */
const REFUSAL: Record<SafePathReason, ResolvedFile> = {
  'not-found': NOT_FOUND,
  'not-a-file': NOT_FOUND,
  invalid: ACCESS,
  traversal: ACCESS,
  forbidden: ACCESS,
}

export async function resolveFile(file: string, client: TftpClient, options: ServeOptions): Promise<ResolvedFile> {
  const { log } = options
  if (options.virtualFile) {
    const generated = await callProvider(options.virtualFile, file, client, options.virtualFileTimeoutMs, log)
    if (generated === 'failed') return INTERNAL
    if (generated !== undefined) {
      log.debug({ request: { file }, bytes: generated.length }, 'tftp serving virtual file')
      return { ok: true, data: generated }
    }
  }
  // Opened once and verified (see core/files/open-safe-file.ts); bytes come from this descriptor only.
  const opened = await openSafeFile(options.root, file)
  if (!opened.ok) {
    if (opened.reason === 'changed') {
      log.warn({ request: { file }, err: opened.cause }, 'tftp file changed under the request')
      return ACCESS
    }
    const level = opened.reason === 'traversal' || opened.reason === 'invalid' ? 'warn' : 'info'
    log[level]({ request: { file }, reason: opened.reason }, 'tftp request refused')
    return REFUSAL[opened.reason]
  }
  const { handle } = opened
  const cached = await options.cache.read(handle, opened.stat).catch(() => undefined)
  if (cached) {
    await handle.close().catch(() => undefined)
    return { ok: true, data: cached }
  }
  return { ok: true, handle, size: opened.stat.size }
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
