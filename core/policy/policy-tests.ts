/**
 * OPA-style policy tests: `<policy>.test.ts` beside `<policy>.ts` default-exports `cases([...])`.
 * Each case builds a context from wire-format fields (as /boot would), runs the policy in the
 * same sandbox as production, and compares the result with `expect` (a deep partial match).
 */
import { access, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { buildContext, deepFreeze } from '../context/build-context.js'
import type { BootContext, Principal } from '../context/types.js'
import { validateDecision, type KindValidator } from '../decision/validate-decision.js'
import { messageOf } from '../errors/bp-error.js'
import type { Decision } from '../decision/types.js'
import { renderDecision } from '../ipxe/render-decision.js'
import { compilePolicy, defaultImportables, type ImportableModules } from './compile-policy.js'
import { isPolicyFile } from './policy-set.js'
import { PolicySandbox, type SandboxLimits } from './sandbox.js'

export interface CaseResult {
  readonly policy: string
  readonly name: string
  readonly status: 'PASS' | 'FAIL' | 'ERROR'
  readonly message?: string
}

interface TestCase {
  name: string
  request: Record<string, string>
  principal?: Principal
  expect: unknown
}

export async function runPolicyTests(
  dir: string,
  limits: SandboxLimits,
  importables: ImportableModules = defaultImportables(),
  /** Validators of plugin decision kinds (e.g. `smartos.boot`), so that policies returning them can be tested. */
  kinds: ReadonlyMap<string, KindValidator> = new Map(),
): Promise<CaseResult[]> {
  const results: CaseResult[] = []
  const policies = (await readdir(dir)).filter(isPolicyFile).sort()
  for (const file of policies) {
    const testFile = join(dir, file.replace(/\.ts$/, '.test.ts'))
    if (!(await exists(testFile))) continue
    let policy: PolicySandbox | undefined
    let tests: PolicySandbox | undefined
    try {
      policy = new PolicySandbox(await compilePolicy(join(dir, file), dir, importables), limits)
      tests = new PolicySandbox(await compilePolicy(testFile, dir, importables), { ...limits, timeoutMs: 1000 }, 'data')
      const list = readCases(tests)
      for (const c of list) results.push(runCase(file, policy, c, kinds))
    } catch (err) {
      results.push({ policy: file, name: '(load)', status: 'ERROR', message: messageOf(err) })
    } finally {
      policy?.dispose()
      tests?.dispose()
    }
  }
  return results
}

function readCases(tests: PolicySandbox): TestCase[] {
  // The test module's default export is data; reading it runs no policy code.
  const value = tests.exportValue('default')
  if (!Array.isArray(value)) throw new Error('the test file must default-export cases([...])')
  return value as TestCase[]
}

export function contextForCase(c: TestCase): BootContext {
  const { context } = buildContext({ query: new Map(Object.entries(c.request ?? {})), remoteAddress: '192.0.2.1' })
  if (!c.principal) return context
  return deepFreeze({ ...context, auth: { status: 'authenticated', username: c.principal.name, principal: c.principal } })
}

function runCase(policyName: string, policy: PolicySandbox, c: TestCase, kinds: ReadonlyMap<string, KindValidator>): CaseResult {
  const base = { policy: policyName, name: String(c.name) }
  let result: unknown
  try {
    result = policy.run(contextForCase(c))
  } catch (err) {
    return { ...base, status: 'ERROR', message: messageOf(err) }
  }
  if (result !== undefined && result !== null) {
    const checked = validateDecision(result, kinds)
    if (!checked.ok) return { ...base, status: 'ERROR', message: `invalid decision: ${checked.problems.join('; ')}` }
    // Render as production would, so that a value iPXE cannot take fails here, not at boot.
    // Plugin kinds are rendered by their plugins, which policy tests do not load: they render as nothing.
    const decision = result as Decision
    if (decision.kind !== 'template' && !decision.kind.includes('.')) {
      try {
        const pluginKinds = new Map([...kinds.keys()].map((k) => [k, () => undefined] as const))
        renderDecision(decision, { context: contextForCase(c), bootPath: '/boot', kinds: pluginKinds })
      } catch (err) {
        return { ...base, status: 'ERROR', message: messageOf(err) }
      }
    }
  }
  const expected = c.expect ?? null
  if (expected === null) {
    return result === undefined || result === null
      ? { ...base, status: 'PASS' }
      : { ...base, status: 'FAIL', message: `expected no decision, got ${JSON.stringify(result)}` }
  }
  const mismatch = partialMismatch(expected, result, '$')
  return mismatch ? { ...base, status: 'FAIL', message: mismatch } : { ...base, status: 'PASS' }
}

/** undefined when every field of `expected` deep-equals the same field of `actual`. */
export function partialMismatch(expected: unknown, actual: unknown, path: string): string | undefined {
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object') return `${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`
    if (Array.isArray(expected)) {
      if (!Array.isArray(actual) || actual.length !== expected.length) return `${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`
    }
    for (const [k, v] of Object.entries(expected)) {
      const m = partialMismatch(v, (actual as Record<string, unknown>)[k], `${path}.${k}`)
      if (m) return m
    }
    return undefined
  }
  return Object.is(expected, actual) ? undefined : `${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}
