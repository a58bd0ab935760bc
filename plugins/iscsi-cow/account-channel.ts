/**
 * How a fresh CHAP secret reaches tgtd without ever being a command-line argument: in this
 * process over tgtd's management socket (bootpolicy runs as root), or on the stdin of the narrow
 * helper bin/bootpolicy-tgt-helper (bootpolicy runs as its own user and `accountHelper` is
 * `["sudo", "-n", …]`; sudo then logs only the helper's name). tgtadm is never used for it:
 * its `--password` is visible in /proc/<pid>/cmdline and in sudo's auth.log line.
 */
import { spawn } from 'node:child_process'
import { errors } from './errors.js'
import { newAccount } from './tgtd-control.js'

export type AccountCreator = (user: string, secret: string) => Promise<void>

export interface AccountChannelOptions {
  readonly controlPort?: number
  readonly timeoutMs: number
  /** The helper's command (no secret in it), e.g. `["sudo", "-n", "/usr/bin/node", "/opt/…/bootpolicy-tgt-helper.js"]`. */
  readonly helper?: readonly string[]
}

/** The JSON request the helper reads on stdin (one line, nothing else). */
export interface HelperRequest {
  readonly op: 'account-new'
  readonly user: string
  readonly secret: string
  readonly controlPort?: number
}

export function accountChannel(options: AccountChannelOptions): AccountCreator {
  const helper = options.helper
  if (!helper?.length) return (user, secret) => newAccount(user, secret, options)
  return (user, secret) => runHelper(helper, { op: 'account-new', user, secret, ...(options.controlPort !== undefined && { controlPort: options.controlPort }) }, options.timeoutMs)
}

function runHelper(helper: readonly string[], request: HelperRequest, timeoutMs: number): Promise<void> {
  const command = `${helper.join(' ')} account-new (user ${request.user})`
  // The helper only ever sees the secret on stdin; its output is echoed with the secret replaced,
  // should a broken helper print it back. No child_process error is attached as `cause`.
  const clean = (text: string): string => text.split(request.secret).join('[redacted]').trim().slice(0, 500)
  return new Promise((resolve, reject) => {
    const child = spawn(helper[0]!, helper.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] })
    let output = ''
    const collect = (b: Buffer): void => {
      if (output.length < 4096) output += b.toString('utf8')
    }
    child.stdout.on('data', collect)
    child.stderr.on('data', collect)
    child.stdin.on('error', () => undefined) // a helper that exits early: its exit code says why
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      reject(
        errors.create('BP_ERR_ISCSI_COMMAND', {
          command,
          exitCode: err.code ?? 'unknown',
          details: err.code === 'ENOENT' ? `${helper[0]} is not installed` : `can't start the helper (${err.code ?? 'error'})`,
        }),
      )
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) return resolve()
      reject(
        errors.create('BP_ERR_ISCSI_COMMAND', {
          command,
          exitCode: code ?? signal ?? 'unknown',
          details: signal === 'SIGKILL' ? `killed after ${timeoutMs} ms` : clean(output) || 'no output',
        }),
      )
    })
    child.stdin.end(`${JSON.stringify(request)}\n`)
  })
}
