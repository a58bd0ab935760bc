/**
 * OPA-style policy tests. `<policy>.test.ts` beside `<policy>.ts` default-exports `cases([...])`:
 * each case builds a context from wire-format fields (as /boot would, plus plugin facts and a
 * principal), runs that one policy in the production sandbox and compares the result with
 * `expect` (a deep partial match). Any `*.test.ts` that exports `cases.chain([...])` tests the
 * whole chain instead (chain-tests.ts). print() output is captured per case.
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Decision } from '../decision/types.js'
import type { KindValidator } from '../decision/validate-decision.js'
import { messageOf } from '../errors/bp-error.js'
import { runChainCase, type ChainPolicy } from './chain-tests.js'
import { compilePolicy, defaultImportables, type ImportableModules } from './compile-policy.js'
import { isPolicyFile } from './policy-set.js'
import { PolicySandbox, toError, type SandboxLimits } from './sandbox.js'
import { checkDecision, contextForCase, partialMismatch, readCase, type TestCase } from './test-case.js'

export { contextForCase, partialMismatch } from './test-case.js'

export interface CaseResult {
  /** The policy file the case tests, or the test file of a chain test. */
  readonly policy: string
  readonly name: string
  readonly status: 'PASS' | 'FAIL' | 'ERROR'
  readonly message?: string
  /** What print() wrote during the case (chain tests: prefixed with the policy's name). */
  readonly prints?: readonly string[]
}

export interface PolicyTestOptions {
  /** Only cases whose `policy: name` matches run (`bootpolicy test --run`). */
  readonly run?: RegExp
  /** What /boot serves when no policy decides (config `default`); chain tests expect it. */
  readonly defaultDecision?: Decision
  /** config policies.onError: what a chain test does after a policy fails. */
  readonly onError?: 'failsafe' | 'next'
  /** config http.bootPath: decisions render as the server renders them. */
  readonly bootPath?: string
}

export async function runPolicyTests(
  dir: string,
  limits: SandboxLimits,
  importables: ImportableModules = defaultImportables(),
  /** Validators of plugin decision kinds (e.g. `smartos.boot`), so that policies returning them can be tested. */
  kinds: ReadonlyMap<string, KindValidator> = new Map(),
  options: PolicyTestOptions = {},
): Promise<CaseResult[]> {
  const names = await readdir(dir)
  const policyFiles = names.filter(isPolicyFile).sort()
  const testFiles = names.filter((n) => n.endsWith('.test.ts')).sort()
  const wanted = (label: string, name: string): boolean => !options.run || options.run.test(`${label}: ${name}`)
  const sandboxes = new Map<string, Promise<PolicySandbox>>()
  const sandboxOf = (file: string): Promise<PolicySandbox> => {
    let s = sandboxes.get(file)
    if (!s) {
      s = compilePolicy(join(dir, file), dir, importables).then((compiled) => {
        const sandbox = new PolicySandbox(compiled, limits)
        sandbox.warm()
        return sandbox
      })
      s.catch(() => undefined)
      sandboxes.set(file, s)
    }
    return s
  }
  const results: CaseResult[] = []
  try {
    for (const testFile of testFiles) {
      const beside = testFile.replace(/\.test\.ts$/, '.ts')
      const label = policyFiles.includes(beside) ? beside : testFile
      let value: unknown
      try {
        value = await readTestFile(join(dir, testFile), dir, limits, importables)
      } catch (err) {
        if (wanted(label, '(load)')) results.push({ policy: label, name: '(load)', status: 'ERROR', message: messageOf(err) })
        continue
      }
      const chainList = chainCasesOf(value)
      const list = chainList ?? value
      if (!Array.isArray(list)) {
        results.push({ policy: label, name: '(load)', status: 'ERROR', message: 'the test file must default-export cases([...]) or cases.chain([...])' })
        continue
      }
      const read = list.map(readCase).filter((c) => wanted(label, c.name))
      if (read.length === 0) continue
      if (!chainList && label === testFile) {
        results.push({ policy: label, name: '(load)', status: 'ERROR', message: `no policy ${beside} beside it; a test of the whole chain default-exports cases.chain([...])` })
        continue
      }
      let chain: ChainPolicy[] | PolicySandbox
      try {
        chain = chainList ? await Promise.all(policyFiles.map(async (name) => ({ name, sandbox: await sandboxOf(name) }))) : await sandboxOf(beside)
      } catch (err) {
        results.push({ policy: label, name: '(load)', status: 'ERROR', message: messageOf(err) })
        continue
      }
      for (const c of read) {
        if ('problem' in c) results.push({ policy: label, name: c.name, status: 'ERROR', message: c.problem })
        else if (Array.isArray(chain)) results.push(runChainCase(label, chain, c, kinds, options.defaultDecision ?? { kind: 'exit' }, options.onError ?? 'failsafe', options.bootPath))
        else results.push(runCase(label, chain, c, kinds, options.bootPath))
      }
    }
  } finally {
    for (const s of sandboxes.values())
      s.then(
        (sb) => sb.dispose(),
        () => undefined,
      )
  }
  return results
}

/** The test module's default export is data; reading it runs no policy code. */
async function readTestFile(file: string, dir: string, limits: SandboxLimits, importables: ImportableModules): Promise<unknown> {
  const tests = new PolicySandbox(await compilePolicy(file, dir, importables), { ...limits, timeoutMs: 1000 }, 'data')
  try {
    return tests.exportValue('default')
  } finally {
    tests.dispose()
  }
}

function chainCasesOf(value: unknown): unknown[] | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined
  const list = (value as { chain?: unknown }).chain
  return Array.isArray(list) ? list : undefined
}

function runCase(policyName: string, policy: PolicySandbox, c: TestCase, kinds: ReadonlyMap<string, KindValidator>, bootPath?: string): CaseResult {
  const ctx = contextForCase(c)
  const { outcome, prints } = policy.runTraced(JSON.stringify(ctx))
  const base = { policy: policyName, name: c.name, ...(prints.length && { prints }) }
  if (outcome.kind === 'error') return { ...base, status: 'ERROR', message: toError(outcome).message }
  const result: unknown = outcome.kind === 'pass' ? undefined : JSON.parse(outcome.json)
  if (result !== undefined) {
    const bad = checkDecision(result, ctx, kinds, bootPath)
    if (bad) return { ...base, status: 'ERROR', message: bad }
  }
  const expected = c.expect ?? null
  if (expected === null) {
    return result === undefined ? { ...base, status: 'PASS' } : { ...base, status: 'FAIL', message: `expected no decision, got ${JSON.stringify(result)}` }
  }
  const mismatch = partialMismatch(expected, result, '$')
  return mismatch ? { ...base, status: 'FAIL', message: mismatch } : { ...base, status: 'PASS' }
}
