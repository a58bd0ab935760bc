/**
 * A chain test case (`cases.chain([...])`): every policy of the directory runs in order, as /boot
 * runs them (first decision wins; a failure follows policies.onError; a decision that does not
 * validate or render is a failure), and `expect` names who decided and what:
 * `{ decidedBy: 'policy:20-lab.ts' | 'default' | 'failsafe', decision?: partial decision }`.
 * Plugins' decide hooks do not run in tests: `default` means no policy decided.
 */
import type { Decision } from '../decision/types.js'
import type { KindValidator } from '../decision/validate-decision.js'
import type { CaseResult } from './policy-tests.js'
import { toError, type PolicySandbox } from './sandbox.js'
import { checkDecision, contextForCase, partialMismatch, type TestCase } from './test-case.js'

export interface ChainPolicy {
  readonly name: string
  readonly sandbox: PolicySandbox
}

export function runChainCase(
  label: string,
  chain: readonly ChainPolicy[],
  c: TestCase,
  kinds: ReadonlyMap<string, KindValidator>,
  defaultDecision: Decision,
  onError: 'failsafe' | 'next',
  bootPath?: string,
): CaseResult {
  const ctx = contextForCase(c)
  const json = JSON.stringify(ctx)
  const prints: string[] = []
  const trace: string[] = []
  let decidedBy = 'default'
  let decision: unknown = defaultDecision
  for (const { name, sandbox } of chain) {
    const run = sandbox.runTraced(json)
    for (const line of run.prints) prints.push(`${name}: ${line}`)
    let failure: string | undefined
    if (run.outcome.kind === 'pass') {
      trace.push(`${name} passed`)
      continue
    }
    if (run.outcome.kind === 'error') failure = toError(run.outcome).message
    else {
      const result: unknown = JSON.parse(run.outcome.json)
      failure = checkDecision(result, ctx, kinds, bootPath)
      if (!failure) {
        trace.push(`${name} decided`)
        decidedBy = `policy:${name}`
        decision = result
        break
      }
    }
    trace.push(`${name} failed: ${failure}`)
    if (onError === 'failsafe') {
      decidedBy = 'failsafe'
      break
    }
  }
  const base = { policy: label, name: c.name, ...(prints.length && { prints }) }
  const expected = c.expect
  if (expected === null || typeof expected !== 'object' || Array.isArray(expected) || !('decidedBy' in expected || 'decision' in expected)) {
    return { ...base, status: 'ERROR', message: 'a chain case expects { decidedBy, decision? }' }
  }
  const e = expected as { decidedBy?: unknown; decision?: unknown }
  const how = `${trace.join(', ') || 'no policies'}`
  if (e.decidedBy !== undefined && e.decidedBy !== decidedBy) {
    return { ...base, status: 'FAIL', message: `expected decidedBy ${JSON.stringify(e.decidedBy)}, got "${decidedBy}" (${how})` }
  }
  if (e.decision !== undefined) {
    const mismatch = partialMismatch(e.decision, decision, '$.decision')
    if (mismatch) return { ...base, status: 'FAIL', message: `${mismatch} (decided by ${decidedBy}: ${how})` }
  }
  return { ...base, status: 'PASS' }
}
