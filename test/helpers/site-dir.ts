/** A site made by the real `bootpolicy init` in a fresh temp dir outside the repository, and the CLI run inside it. */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../core/config/load-config.js'

export const BIN = join(PACKAGE_ROOT, 'bin/bootpolicy.js')

export interface CliResult {
  readonly code: number | null
  readonly out: string
  readonly err: string
}

export function runCli(args: readonly string[], cwd: string): CliResult {
  const env = { ...process.env }
  delete env.BOOTPOLICY_CONFIG
  // --no-node-snapshot up front spares the bin its re-exec (one node start instead of two); the code run is the same.
  const r = spawnSync(process.execPath, ['--no-node-snapshot', BIN, ...args], { cwd, env, encoding: 'utf8', timeout: 120_000 })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

/** The same, without blocking this process: for a CLI that talks to a server running in this process. */
export function runCliAsync(args: readonly string[], cwd: string, env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--no-node-snapshot', BIN, ...args], { cwd, env: { ...process.env, BOOTPOLICY_CONFIG: '', ...env } })
    let out = ''
    let err = ''
    child.stdout.on('data', (b: Buffer) => (out += b))
    child.stderr.on('data', (b: Buffer) => (err += b))
    child.on('close', (code) => resolve({ code, out, err }))
  })
}

export interface Site {
  /** The temp dir that holds the site folder `site/`. */
  readonly parent: string
  readonly dir: string
  cli(...args: string[]): CliResult
  write(name: string, text: string): void
  read(name: string): string
  /** Merge keys into bootpolicy.json. */
  config(patch: Record<string, unknown>): void
  remove(): void
}

export function initSite(): Site {
  const parent = mkdtempSync(join(tmpdir(), 'bp-site-'))
  const r = runCli(['init', 'site'], parent)
  if (r.code !== 0) throw new Error(`bootpolicy init failed (${r.code}): ${r.err}`)
  const dir = join(parent, 'site')
  const site: Site = {
    parent,
    dir,
    cli: (...args) => runCli(args, dir),
    write: (name, text) => writeFileSync(join(dir, name), text),
    read: (name) => readFileSync(join(dir, name), 'utf8'),
    config(patch) {
      const current = JSON.parse(site.read('bootpolicy.json')) as Record<string, unknown>
      site.write('bootpolicy.json', `${JSON.stringify({ ...current, ...patch }, null, 2)}\n`)
    },
    remove: () => rmSync(parent, { recursive: true, force: true }),
  }
  return site
}
