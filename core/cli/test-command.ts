/**
 * bootpolicy test [dir] [--run PATTERN] [--verbose] [--watch]: run the policy tests; exit 1 if any
 * case fails or errors, or none ran. print() lines show under a case that did not pass (under every
 * case with --verbose). --watch runs again on each change in the directory, until interrupted.
 */
import { watch } from 'node:fs'
import { resolve } from 'node:path'
import { loadConfig } from '../config/load-config.js'
import { BootpolicyError } from '../errors/bp-error.js'
import { runPolicyTests, type CaseResult } from '../policy/policy-tests.js'
import { loadRuntimePlugins } from '../runtime/runtime-plugins.js'
import { terminalSafe } from '../text/terminal-safe.js'

export interface TestFlags {
  readonly run?: string
  readonly verbose?: boolean
  readonly watch?: boolean
}

/** Changes closer together than this are one re-run (editors write a file in several steps). */
const DEBOUNCE_MS = 150

export async function testCommand(configFile: string | undefined, dir: string | undefined, format: 'text' | 'json', flags: TestFlags = {}): Promise<number> {
  const config = loadConfig({ file: configFile })
  const target = dir ? resolve(dir) : config.policies.dir
  const filter = flags.run === undefined ? undefined : patternOf(flags.run)
  // The configured plugins' policy helpers and decision kinds, without running the plugins.
  const plugins = await loadRuntimePlugins(config, { mode: 'offline' })
  const once = async (): Promise<number> => {
    const results = await runPolicyTests(target, config.policies, plugins.importables, plugins.kinds, {
      ...(filter && { run: filter }),
      defaultDecision: config.default,
      onError: config.policies.onError,
      bootPath: config.http.bootPath,
    })
    return report(target, results, format, flags)
  }
  if (!flags.watch) return once()
  return watchLoop(target, once, format)
}

function patternOf(source: string): RegExp {
  try {
    return new RegExp(source)
  } catch (err) {
    throw new BootpolicyError('BP_ERR_CLI_USAGE', { details: `--run: not a regular expression (${(err as Error).message})` })
  }
}

function report(dir: string, results: readonly CaseResult[], format: 'text' | 'json', flags: TestFlags): number {
  const failed = results.filter((r) => r.status !== 'PASS').length
  const code = failed > 0 || results.length === 0 ? 1 : 0
  if (format === 'json') {
    const doc = { dir, results, passed: results.length - failed, failed }
    // One document per line under --watch, so that a reader can take them one by one.
    process.stdout.write(`${flags.watch ? JSON.stringify(doc) : JSON.stringify(doc, null, 2)}\n`)
    return code
  }
  let out = ''
  for (const r of results) {
    out += `${r.status.padEnd(5)} ${r.policy}: ${terminalSafe(r.name)}\n`
    if (r.message) out += `      ${terminalSafe(r.message)}\n`
    if (r.prints && (r.status !== 'PASS' || flags.verbose)) for (const line of r.prints) out += `      print: ${terminalSafe(line)}\n`
  }
  const none = results.length === 0 ? (flags.run === undefined ? ' (no test cases found)' : ` (no case matches --run ${flags.run})`) : ''
  process.stdout.write(`${out}${results.length - failed} passed, ${failed} failed${none}\n`)
  return code
}

/** Runs, then again after each (debounced) change; resolves with the last run's status on SIGINT/SIGTERM. */
function watchLoop(dir: string, once: () => Promise<number>, format: 'text' | 'json'): Promise<number> {
  return new Promise((done) => {
    let last = 1
    let running = false
    let again = false
    let timer: NodeJS.Timeout | undefined
    const cycle = async (): Promise<void> => {
      if (running) {
        again = true
        return
      }
      running = true
      try {
        last = await once()
      } catch (err) {
        process.stderr.write(`bootpolicy: ${(err as Error).message}\n`)
        last = 2
      }
      if (format === 'text') process.stdout.write(`watching ${dir} (Ctrl-C to stop)\n`)
      running = false
      if (again) {
        again = false
        void cycle()
      }
    }
    const watcher = watch(dir, () => {
      clearTimeout(timer)
      timer = setTimeout(() => void cycle(), DEBOUNCE_MS)
    })
    watcher.on('error', (err) => process.stderr.write(`bootpolicy: watching ${dir}: ${err.message}\n`))
    const stop = (): void => {
      watcher.close()
      clearTimeout(timer)
      done(last)
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    void cycle()
  })
}
