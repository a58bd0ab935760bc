/** Temporary policy directories for tests: write files, get a config pointing at them. */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { validateConfig } from '../../core/config/load-config.js'
import type { Config } from '../../core/config/config-types.js'
import { dropSuiteState, withSuiteState } from './suite-state.js'

export interface TempPolicies {
  readonly dir: string
  readonly policiesDir: string
  write(name: string, source: string): void
  config(overrides?: Record<string, unknown>): Config
  /** Removes the dir now; the promise settles when its suite databases are dropped (postgres mode). */
  remove(): Promise<void>
}

export function tempPolicies(files: Record<string, string> = {}): TempPolicies {
  const dir = mkdtempSync(join(tmpdir(), 'bp-test-'))
  const policiesDir = join(dir, 'policies')
  mkdirSync(policiesDir)
  mkdirSync(join(dir, 'templates'))
  const write = (name: string, source: string): void => writeFileSync(join(policiesDir, name), source)
  for (const [name, source] of Object.entries(files)) write(name, source)
  return {
    dir,
    policiesDir,
    write,
    config(overrides = {}) {
      // BOOTPOLICY_TEST_STATE=postgres: this stateDir's database, unless the test sets its own state.
      return validateConfig(withSuiteState({ policies: { dir: policiesDir, watch: false }, templates: { dir: join(dir, 'templates') }, log: { level: 'silent' }, ...overrides }, dir), dir)
    },
    remove() {
      rmSync(dir, { recursive: true, force: true })
      return dropSuiteState(dir)
    },
  }
}
