/**
 * Running the system tools: execFile with an argument array (never a shell), a time limit, and
 * errors translated to BP_ERR_ISCSI_COMMAND with the tool's exit code and stderr. A missing tool
 * says which Debian package brings it. `prefix` (e.g. `['sudo', '-n', helper]`) is put in front of
 * every command when the server does not run as root (see README.md, "Privileges").
 * Errors copy only the exit code or signal and an output excerpt, never the child_process error
 * (its message, `cmd` and `spawnargs` hold the whole command line) as `cause`. No command here
 * carries a secret: CHAP accounts go through account-channel.ts.
 */
import { execFile, spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { BootpolicyError } from 'bootpolicy/plugin'
import { errors } from './errors.js'

export interface CommandResult {
  readonly stdout: string
  readonly stderr: string
}

export interface RunOptions {
  /**
   * For a command that daemonizes (qemu-storage-daemon --daemonize): its output goes to this file
   * and the call ends when the command itself exits — the daemon keeps the pipes of execFile open.
   */
  readonly logFile?: string
}

export type Runner = (file: string, args: readonly string[], options?: RunOptions) => Promise<CommandResult>

const PACKAGES: Record<string, string> = {
  tgtadm: 'tgt',
  'qemu-img': 'qemu-utils',
  'qemu-storage-daemon': 'qemu-system-common',
  losetup: 'mount',
  dmsetup: 'dmsetup',
  blockdev: 'util-linux',
  umount: 'mount',
  fusermount3: 'fuse3',
}

/** Arguments safe to show in errors and logs: a `--password` value is replaced. */
export function printable(file: string, args: readonly string[]): string {
  const shown = args.map((a, i) => (args[i - 1] === '--password' ? '[redacted]' : a))
  return [file, ...shown].join(' ')
}

export function execRunner(options: { prefix?: readonly string[]; timeoutMs: number }): Runner {
  const prefix = options.prefix ?? []
  return (file, args, runOptions) =>
    new Promise((resolve, reject) => {
      const [cmd, ...rest] = prefix.length ? [...prefix, file, ...args] : [file, ...args]
      if (runOptions?.logFile) return runDaemonizing(cmd!, rest, file, args, runOptions.logFile, options.timeoutMs).then(resolve, reject)
      execFile(cmd!, rest, { timeout: options.timeoutMs, maxBuffer: 16 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr })
        const e = err as NodeJS.ErrnoException & { code?: string | number; killed?: boolean; signal?: string }
        const tool = file.split('/').pop()!
        if (e.code === 'ENOENT') {
          return reject(
            errors.create('BP_ERR_ISCSI_COMMAND', {
              command: printable(file, args),
              exitCode: 'ENOENT',
              details: `${cmd} is not installed${PACKAGES[tool] ? ` (Debian package ${PACKAGES[tool]})` : ''}`,
            }),
          )
        }
        const details = e.killed ? `killed after ${options.timeoutMs} ms` : (stderr || stdout || e.message).trim().slice(0, 500)
        reject(
          errors.create('BP_ERR_ISCSI_COMMAND', {
            command: printable(file, args),
            exitCode: typeof e.code === 'number' ? e.code : (e.signal ?? 'unknown'),
            details,
          }),
        )
      })
    })
}

/** The tool's message of a failed command (for "already exists" / "can't find" checks). */
export function commandDetails(err: unknown): string {
  return err instanceof BootpolicyError && err.code === 'BP_ERR_ISCSI_COMMAND' ? String(err.params.details ?? '') : ''
}

function runDaemonizing(cmd: string, rest: string[], file: string, args: readonly string[], logFile: string, timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const fd = openSync(logFile, 'w', 0o600)
    const child = spawn(cmd, rest, { stdio: ['ignore', fd, fd] })
    closeSync(fd)
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    const output = (): string => readFileSync(logFile, 'utf8').trim().slice(0, 500)
    child.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      const tool = file.split('/').pop()!
      reject(
        errors.create('BP_ERR_ISCSI_COMMAND', {
          command: printable(file, args),
          exitCode: err.code ?? 'unknown',
          details: err.code === 'ENOENT' ? `${cmd} is not installed${PACKAGES[tool] ? ` (Debian package ${PACKAGES[tool]})` : ''}` : err.message,
        }),
      )
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) return resolve({ stdout: output(), stderr: '' })
      reject(errors.create('BP_ERR_ISCSI_COMMAND', { command: printable(file, args), exitCode: code ?? signal ?? 'unknown', details: output() || 'no output' }))
    })
  })
}
