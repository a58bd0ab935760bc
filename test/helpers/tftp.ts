/**
 * TFTP test harness: a throwaway root (with a secret beside it and symlinks pointing at it), the
 * service on 127.0.0.1 with an ephemeral port, the real clients (curl, atftp) and a raw UDP client
 * for packets no real client sends. A missing client fails the test with the tool's name.
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import dgram from 'node:dgram'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { resolveTftpConfig, type TftpConfig } from '../../core/tftp/config-schema.js'
import { createTftpService, type TftpService, type VirtualFileProvider } from '../../core/tftp/tftp-service.js'
import { captureLogs } from './log-capture.js'
import { requireCommand } from './e2e-require.js'

export const SIZES = { empty: 0, s511: 511, s512: 512, big: 1024 * 1024 + 1 } as const
export const SECRET = 'TOP-SECRET-OUTSIDE-THE-ROOT'

export interface TftpTree {
  base: string
  root: string
  /** sha256 of each file in SIZES, by name. */
  sha: Record<keyof typeof SIZES, string>
  cleanup(): void
}

export function makeTftpTree(): TftpTree {
  const base = mkdtempSync(path.join(tmpdir(), 'bp-tftp-'))
  const root = path.join(base, 'root')
  const outside = path.join(base, 'outside')
  mkdirSync(path.join(root, 'pxelinux.cfg'), { recursive: true })
  mkdirSync(outside)
  const sha = {} as TftpTree['sha']
  for (const [name, size] of Object.entries(SIZES) as [keyof typeof SIZES, number][]) {
    const data = randomBytes(size)
    writeFileSync(path.join(root, name), data)
    sha[name] = sha256(data)
  }
  writeFileSync(path.join(outside, 'secret'), SECRET)
  symlinkSync('../outside/secret', path.join(root, 'link-out'))
  symlinkSync(outside, path.join(root, 'dir-out'))
  symlinkSync('s511', path.join(root, 'link-in'))
  return { base, root, sha, cleanup: () => rmSync(base, { recursive: true, force: true }) }
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex')
}

export function sha256File(file: string): string {
  return sha256(readFileSync(file))
}

export async function startTftp(
  root: string,
  overrides: Partial<TftpConfig> = {},
  virtualFile?: VirtualFileProvider,
): Promise<{ service: TftpService; port: number; logs: ReturnType<typeof captureLogs> }> {
  const logs = captureLogs('debug')
  const config = resolveTftpConfig({ enabled: true, address: '127.0.0.1', port: 0, root, ...overrides })
  const service = createTftpService(config, virtualFile ? { logger: logs.logger, virtualFile } : { logger: logs.logger })
  await service.start()
  return { service, port: service.address().port, logs }
}

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

function run(command: string, args: string[], timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0
      resolve({ code, stdout: String(stdout), stderr: String(stderr) })
    })
  })
}

/** curl's TFTP client. `--path-as-is` keeps `..` segments that curl would otherwise squash. */
export function curlGet(port: number, file: string, out: string, extra: string[] = []): Promise<RunResult> {
  const curl = requireCommand('curl', 'curl')
  return run(curl, ['-sS', '--path-as-is', '--max-time', '20', '-o', out, ...extra, `tftp://127.0.0.1:${port}/${file}`])
}

export function curlPut(port: number, local: string, remote: string): Promise<RunResult> {
  const curl = requireCommand('curl', 'curl')
  return run(curl, ['-sS', '--max-time', '10', '-T', local, `tftp://127.0.0.1:${port}/${remote}`])
}

/** atftp with RFC 2347 options, e.g. ['blksize 1428', 'tsize']. */
export function atftpGet(port: number, file: string, out: string, options: string[] = []): Promise<RunResult> {
  const atftp = requireCommand('atftp', 'atftp')
  const opts = options.flatMap((o) => ['--option', o])
  return run(atftp, ['--get', '-r', file, '-l', out, ...opts, '127.0.0.1', String(port)])
}

export function atftpPut(port: number, local: string, remote: string): Promise<RunResult> {
  const atftp = requireCommand('atftp', 'atftp')
  return run(atftp, ['--put', '-l', local, '-r', remote, '127.0.0.1', String(port)])
}

/** An RRQ as a client would build it: name, mode, then option/value pairs, all NUL-terminated. */
export function rrq(file: string | Buffer, mode = 'octet', options: string[] = []): Buffer {
  const parts = [Buffer.from([0, 1]), Buffer.from(file), Buffer.from([0]), Buffer.from(mode), Buffer.from([0])]
  for (const o of options) parts.push(Buffer.from(o), Buffer.from([0]))
  return Buffer.concat(parts)
}

/**
 * Send one datagram from a fresh socket and collect every reply for `waitMs`. The socket ACKs
 * nothing, so a DATA reply shows exactly what the server would have leaked.
 */
export async function rawExchange(port: number, packet: Buffer, waitMs = 300): Promise<{ replies: Buffer[]; ports: number[] }> {
  const socket = dgram.createSocket('udp4')
  const replies: Buffer[] = []
  const ports: number[] = []
  socket.on('message', (msg, rinfo) => {
    replies.push(msg)
    ports.push(rinfo.port)
  })
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  socket.send(packet, port, '127.0.0.1')
  await new Promise((resolve) => setTimeout(resolve, waitMs))
  socket.close()
  return { replies, ports }
}

export function opcodeOf(packet: Buffer | undefined): number | undefined {
  return packet && packet.length >= 2 ? packet.readUInt16BE(0) : undefined
}

/** Error code of an ERROR packet, or undefined. */
export function errorCodeOf(packet: Buffer | undefined): number | undefined {
  return opcodeOf(packet) === 5 && packet && packet.length >= 4 ? packet.readUInt16BE(2) : undefined
}
