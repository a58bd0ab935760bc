/** Fixtures for the iscsi-cow tests: a base image with a known pattern, a private tgtd, an initiator. */
import { openStateBackend, type StateSettings } from '../../../core/state/open-state-backend.js'
import type { StateBackend } from '../../../core/state/state-backend.js'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger } from '../../../core/log/logger.js'
import { requireTools, startTgtd, type Tgtd } from '../../../test/helpers/tgtd.js'
import { openIscsiCow, type IscsiCowOptions } from '../index.js'
import type { Attachment, Provisioner } from '../provisioner.js'

export const BLOCK = 4096

/** Block i of the base holds the byte i % 251 (so every block differs from its neighbours). */
export function makeBase(file: string, mib = 8): string {
  const buf = Buffer.alloc(mib << 20)
  for (let i = 0; i < buf.length / BLOCK; i++) buf.fill(i % 251, i * BLOCK, (i + 1) * BLOCK)
  writeFileSync(file, buf)
  return sha256(file)
}

export function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

export function allocated(file: string): number {
  return statSync(file).blocks * 512
}

export function iscsiUrl(a: Attachment, secret = a.chapSecret, port = a.port): string {
  return `iscsi://${a.chapUser}%${secret}@127.0.0.1:${port}/${a.iqn}/${a.lun}`
}

/** qemu-io as a userspace iSCSI initiator: `qemu-io -f raw -c … <url>`. */
export function qemuIo(url: string, ...commands: string[]): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    execFile('qemu-io', ['-f', 'raw', ...commands.flatMap((c) => ['-c', c]), url], { timeout: 30_000 }, (err, stdout, stderr) => {
      // qemu-io exits 0 even when a -c command fails: failures show in the output.
      const out = `${stdout}${stderr}`
      resolve({ ok: !err && !/(failed|error|Pattern verification|can't open)/i.test(out), out })
    })
  })
}

/** iscsi-inq: logs in with CHAP and asks the LUN for its inquiry data. */
export function iscsiInq(url: string): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    execFile('iscsi-inq', [url], { timeout: 15_000 }, (err, stdout, stderr) => resolve({ ok: !err, out: `${stdout}${stderr}` }))
  })
}

export interface Env {
  readonly dir: string
  readonly base: string
  readonly baseSha: string
  readonly tgtd: Tgtd
  readonly stateDir: string
  readonly options: IscsiCowOptions
  /** `state`: a shared backend (replicas on PostgreSQL). */
  open(logger?: ReturnType<typeof createLogger>, state?: StateBackend): Provisioner
  /**
   * Also clean up a plugin instance's state directory (built apps use `<stateDir>/plugins/iscsi-cow`).
   * `state`: the app's config `state` when it keeps the records in PostgreSQL (the suite's postgres
   * pass): cleanup then reads them from there to stop every disk (with files alone it finds no
   * record, stops nothing, and a killed daemon's FUSE export is left busy).
   */
  track(stateDir: string, state?: StateSettings): void
  cleanup(): Promise<void>
}

/** A tgtd, a base image `fc29` and plugin options pointing at both. Call cleanup() in teardown. */
export async function iscsiEnv(extra: Partial<IscsiCowOptions> = {}): Promise<Env> {
  requireTools('tgtd', 'tgtadm', 'qemu-img', 'qemu-storage-daemon', 'qemu-io', 'iscsi-inq')
  const dir = mkdtempSync(join(tmpdir(), 'bp-iscsi-'))
  const base = join(dir, 'fc29.img')
  const baseSha = makeBase(base)
  const tgtd = await startTgtd()
  const stateDir = join(dir, 'state')
  const options: IscsiCowOptions = {
    images: { fc29: { base } },
    portal: { address: '127.0.0.1', port: tgtd.port },
    hostname: 'server-01.example.edu',
    backend: 'auto',
    tgtadm: { controlPort: tgtd.controlPort },
    ...extra,
  }
  const opened: Provisioner[] = []
  const stateDirs: { dir: string; state?: StateSettings }[] = [{ dir: stateDir }]
  return {
    dir,
    base,
    baseSha,
    tgtd,
    stateDir,
    options,
    open(logger = createLogger('silent'), state?: StateBackend) {
      const p = openIscsiCow(options, { baseDir: dir, stateDir, logger, ...(state && { state }) })
      opened.push(p)
      return p
    },
    track(extra, state) {
      stateDirs.push({ dir: extra, ...(state?.backend === 'postgres' && { state }) })
    },
    async cleanup() {
      for (const sd of stateDirs) {
        // The records name the disks to stop: with postgres they are in the database, not under sd.dir.
        const shared = sd.state ? await openStateBackend(sd.state, sd.dir) : undefined
        try {
          const p = openIscsiCow(options, { baseDir: dir, stateDir: sd.dir, logger: createLogger('silent'), ...(shared && { state: shared }) })
          await p.stopAll()
        } finally {
          await shared?.close()
        }
        killDaemons(join(sd.dir, 'run'))
      }
      await tgtd.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Last resort: every qemu-storage-daemon whose pid file is under `runDir`. */
export function killDaemons(runDir: string): void {
  let instances: string[] = []
  try {
    instances = readdirSync(runDir)
  } catch {
    return
  }
  for (const i of instances) {
    for (const f of readdirSync(join(runDir, i))) {
      const pid = Number.parseInt(readFileSync(join(runDir, i, f), 'utf8'), 10)
      try {
        if (pid > 0) process.kill(pid, 'SIGKILL')
      } catch {
        // gone
      }
    }
  }
}

/** `bootpolicy …` through core/cli/main.ts in this process, with its stdout and stderr captured. */
export async function runCli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const { main } = await import('../../../core/cli/main.js')
  let out = ''
  let err = ''
  const w = process.stdout.write.bind(process.stdout)
  const e = process.stderr.write.bind(process.stderr)
  process.stdout.write = ((s: string) => {
    out += s
    return true
  }) as typeof process.stdout.write
  process.stderr.write = ((s: string) => {
    err += s
    return true
  }) as typeof process.stderr.write
  try {
    return { code: await main(argv), out, err }
  } finally {
    process.stdout.write = w
    process.stderr.write = e
  }
}
