/**
 * A child process the e2e harness owns: its output (stdout and stderr, interleaved) is kept in
 * memory and in a log file, can be waited on with a regex, and it dies with its process group.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, createWriteStream, fstatSync, openSync, readSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { guardProcessGroup } from './group-guardian.js'

export interface ExitStatus {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** Milliseconds after spawn. */
  readonly atMs: number
}

export interface OwnedProcess {
  readonly name: string
  readonly pid: number
  readonly logFile: string
  /** performance.now() just before spawn: the zero of every `atMs`. */
  readonly startedAt: number
  /** Everything written to stdout and stderr so far. */
  output(): string
  /** Resolves with the first match of `re` in the output (waiting for more output if needed). */
  waitForOutput(re: RegExp, timeoutMs: number): Promise<{ match: RegExpExecArray; atMs: number }>
  /** Called for every chunk of output, with its arrival time. */
  onOutput(listener: (chunk: string, atMs: number) => void): void
  readonly exited: Promise<ExitStatus>
  /** Exit status, or undefined while it runs. */
  exitStatus(): ExitStatus | undefined
  /** Write to its stdin (needs `stdin: 'pipe'`); ignored once it has exited. */
  write(data: string): void
  /** SIGTERM to the process group, SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<ExitStatus>
}

export interface StartProcessOptions {
  readonly name: string
  readonly command: string
  readonly args: readonly string[]
  readonly logFile: string
  readonly env?: NodeJS.ProcessEnv
  readonly cwd?: string
  /** Default 'ignore' (/dev/null). */
  readonly stdin?: 'ignore' | 'pipe'
  /**
   * stdout and stderr go straight into the log file, which is read back every few milliseconds,
   * instead of through a pipe. For QEMU: its serial port drops a byte after four failed writes to
   * a full pipe (hw/char/serial.c, MAX_XMIT_RETRY), and a test process starved of CPU on a loaded
   * machine reads its pipe too late; a regular file never refuses a write.
   */
  readonly outputToFile?: boolean
}

/** How often a log file written by the child itself is read back (outputToFile). */
const FILE_POLL_MS = 10

export function startProcess(options: StartProcessOptions): OwnedProcess {
  const direct = options.outputToFile === true
  const log = direct ? undefined : createWriteStream(options.logFile, { flags: 'a' })
  const childOut = direct ? openSync(options.logFile, 'a') : 'pipe'
  const follower = direct ? followFile(options.logFile) : undefined
  const startedAt = performance.now()
  let child: ChildProcess
  try {
    child = spawn(options.command, [...options.args], {
      stdio: [options.stdin ?? 'ignore', childOut, childOut],
      detached: true, // own process group: stop() reaches its children too
      env: options.env ?? process.env,
      cwd: options.cwd,
    })
  } finally {
    if (typeof childOut === 'number') closeSync(childOut)
  }
  guardProcessGroup(child.pid)
  let text = ''
  let status: ExitStatus | undefined
  const listeners: Array<(chunk: string, atMs: number) => void> = []
  const onData = (chunk: Buffer): void => {
    const atMs = performance.now() - startedAt
    const s = chunk.toString('latin1')
    text += s
    log?.write(chunk)
    for (const listener of listeners) listener(s, atMs)
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  const poller = follower && setInterval(() => follower.readNew(onData), FILE_POLL_MS).unref()
  /** outputToFile: the last output once the child has exited ('error' may precede 'close': close is idempotent). */
  const finishReading = (): void => {
    clearInterval(poller)
    follower?.close(onData)
  }
  child.stdin?.on('error', () => undefined) // EPIPE when it exits first
  const exited = new Promise<ExitStatus>((resolve) => {
    child.on('error', (err) => {
      finishReading()
      text += `\n[spawn error] ${err.message}\n`
      status = { code: null, signal: null, atMs: performance.now() - startedAt }
      resolve(status)
    })
    child.on('close', (code, signal) => {
      status ??= { code, signal, atMs: performance.now() - startedAt }
      finishReading()
      log?.end()
      resolve(status)
    })
  })

  const self: OwnedProcess = {
    name: options.name,
    pid: child.pid ?? -1,
    logFile: options.logFile,
    startedAt,
    output: () => text,
    onOutput: (listener) => void listeners.push(listener),
    exited,
    exitStatus: () => status,
    write(data) {
      if (!status && child.stdin?.writable) child.stdin.write(data)
    },
    waitForOutput(re, timeoutMs) {
      const pattern = new RegExp(re.source, re.flags.replace('g', ''))
      return new Promise((resolve, reject) => {
        const check = (atMs: number): boolean => {
          const match = pattern.exec(text)
          if (!match) return false
          cleanup()
          resolve({ match, atMs })
          return true
        }
        const onChunk = (_chunk: string, atMs: number): void => void check(atMs)
        const timer = setTimeout(() => {
          cleanup()
          reject(new Error(`${options.name}: ${re} not seen within ${timeoutMs} ms; last output:\n${tail(text)}`))
        }, timeoutMs)
        const cleanup = (): void => {
          clearTimeout(timer)
          const i = listeners.indexOf(onChunk)
          if (i >= 0) listeners.splice(i, 1)
        }
        listeners.push(onChunk)
        if (check(performance.now() - startedAt)) return
        void exited.then((s) => {
          if (check(s.atMs)) return
          cleanup()
          reject(new Error(`${options.name}: exited (code ${s.code}, signal ${s.signal}) before ${re}; last output:\n${tail(text)}`))
        })
      })
    },
    async stop(graceMs = 2000) {
      if (status || child.pid === undefined) return exited
      signalGroup(child.pid, 'SIGTERM')
      const timer = setTimeout(() => signalGroup(child.pid as number, 'SIGKILL'), graceMs)
      const s = await exited
      clearTimeout(timer)
      return s
    },
  }
  return self
}

/** What is appended to `path` after this call, read on demand; close() reads the rest first. */
function followFile(path: string): { readNew(sink: (chunk: Buffer) => void): void; close(sink: (chunk: Buffer) => void): void } {
  const fd = openSync(path, 'r')
  let at = fstatSync(fd).size
  let open = true
  const buffer = Buffer.alloc(64 * 1024)
  const readNew = (sink: (chunk: Buffer) => void): void => {
    for (let n = open ? readSync(fd, buffer, 0, buffer.length, at) : 0; n > 0; n = readSync(fd, buffer, 0, buffer.length, at)) {
      at += n
      sink(buffer.subarray(0, n)) // onData copies it into a string at once
    }
  }
  return {
    readNew,
    close(sink) {
      if (!open) return
      readNew(sink)
      open = false
      closeSync(fd)
    },
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch {
    // already gone
  }
}

/** The last `n` characters, for error messages. */
export function tail(text: string, n = 2000): string {
  return text.length > n ? `…${text.slice(-n)}` : text
}
