/**
 * print() in the real sandbox: values are serialized inside the isolate under the time limit,
 * bounded in count and size, hostile values (looping getters, Proxies, toJSON, cycles, patched
 * prototypes) cannot hang the host or escape the budget, and outside a traced run (a real /boot)
 * print does nothing at all.
 */
import t, { type Test } from 'tap'
import { compilePolicy } from '../../../core/policy/compile-policy.js'
import { runPolicyTests } from '../../../core/policy/policy-tests.js'
import { PolicySandbox } from '../../../core/policy/sandbox.js'
import { tempPolicies } from '../../helpers/policy-dir.js'

const LIMITS = { timeoutMs: 50, memoryMb: 32 }
const CTX = JSON.stringify({ arch: 'x86_64-efi', remoteAddress: '192.0.2.1', params: {}, auth: { status: 'none' }, plugins: {}, dropped: [] })

async function sandboxFor(t: Test, body: string, limits = LIMITS): Promise<PolicySandbox> {
  const dir = tempPolicies({ 'p.ts': `import { print } from 'bootpolicy/policy'\nexport default (ctx: any): any => {\n${body}\n}\n` })
  t.teardown(() => dir.remove())
  const sandbox = new PolicySandbox(await compilePolicy(`${dir.policiesDir}/p.ts`, dir.policiesDir), limits)
  t.teardown(() => sandbox.dispose())
  return sandbox
}

t.test('print serializes strings, numbers, objects and undefined into one line per call', async (t) => {
  const s = await sandboxFor(t, `print('arch', ctx.arch, 42, { a: [1, 'x'] }, undefined, null, true); print(); return { kind: 'exit' }`)
  const { outcome, prints } = s.runTraced(CTX)
  t.equal(outcome.kind, 'decision')
  t.same(prints, ['arch x86_64-efi 42 {"a":[1,"x"]} undefined null true', ''])
})

t.test('hostile print values are described, never run unbounded, and the policy still decides', async (t) => {
  const s = await sandboxFor(
    t,
    `
    const cyc: any = {}; cyc.self = cyc
    const throwing = { get x() { throw new Error('nope') } }
    const bigint = 10n
    const deep: any = {}; let d = deep; for (let i = 0; i < 5000; i++) { d.n = {}; d = d.n }
    const wide = Array.from({ length: 5000 }, (_, i) => i)
    print(cyc); print(throwing); print(() => 1, Symbol('s'), bigint); print(deep); print(wide); print('x'.repeat(5000))
    print({ toJSON() { return 'custom' } })
    return { kind: 'exit' }`,
    { timeoutMs: 1000, memoryMb: 32 },
  ) // room for a busy box: the point is what each print says
  const t0 = performance.now()
  const { outcome, prints } = s.runTraced(CTX)
  t.ok(performance.now() - t0 < 1500, 'bounded')
  t.equal(outcome.kind, 'decision', 'the policy went on after each print')
  t.same(prints.slice(0, 3), ['[a cycle, or a value JSON cannot hold]', '[unprintable: its getter or toJSON threw]', '[function] [symbol] [bigint]'])
  t.match(prints[3], /^\[(too large to print|nesting too deep)\]$/, 'deep nesting is cut')
  t.equal(prints[4], '[too large to print]', 'a wide array is cut by the node/size budget')
  t.equal(prints[5]!.length, 1001, 'a long string is cut at 1000 characters plus …')
  t.equal(prints[6], '"custom"')
})

t.test('a Proxy or getter that loops inside print is stopped by the time limit; earlier lines survive', async (t) => {
  const s = await sandboxFor(t, `print('before'); print(new Proxy({}, { get() { for (;;) {} } })); return { kind: 'exit' }`)
  const t0 = performance.now()
  const { outcome, prints } = s.runTraced(CTX)
  t.ok(performance.now() - t0 < 500, `stopped after ${Math.round(performance.now() - t0)} ms`)
  t.equal(outcome.kind, 'error')
  t.match(outcome, { code: 'BP_ERR_POLICY_TIMEOUT' })
  t.same(prints, ['before'], 'the lines printed before the hang are kept')
  // The sandbox stays usable and its print state was reset (a timeout skips finally blocks).
  const again = s.runTraced(CTX)
  t.same(again.prints, ['before'])
})

t.test('at most 50 lines per call; the rest are counted', async (t) => {
  const s = await sandboxFor(t, `for (let i = 0; i < 10000; i++) print('line', i); return undefined`)
  const { prints } = s.runTraced(CTX)
  t.equal(prints.length, 51)
  t.equal(prints[49], 'line 49')
  t.equal(prints[50], '… 9950 more print() calls dropped (at most 50 per call)')
})

t.test('a print inside a getter that the decision serialization runs does not reset its budget', async (t) => {
  // The decision holds 20,000 values (over the 10,000 cap) behind a getter that prints: the
  // decision must still be refused as too large, not slip through a budget reset by print.
  const s = await sandboxFor(
    t,
    `
    const items = Array.from({ length: 20000 }, (_, i) => ({ get v() { print('g', i); return i } }))
    return { kind: 'exit', message: 'x', extra: items }`,
    { timeoutMs: 2000, memoryMb: 64 },
  ) // building 20,000 getters takes longer than 50 ms on a busy box
  const { outcome, prints } = s.runTraced(CTX)
  t.match(outcome, { kind: 'error', code: 'BP_ERR_POLICY_BAD_DECISION' })
  t.ok(prints.length <= 51)
})

t.test('patched prototypes (Array setters, toJSON) cannot intercept or forge print lines', async (t) => {
  const s = await sandboxFor(
    t,
    `
    Object.defineProperty(Array.prototype, '0', { set() { throw new Error('hijack') }, get() { return 'forged' }, configurable: true })
    ;(Array.prototype as any).toJSON = function () { for (;;) {} }
    ;(String.prototype as any).toJSON = function () { return 'forged' }
    print('real one'); print('real two')
    return undefined`,
  )
  const { outcome, prints } = s.runTraced(CTX)
  t.equal(outcome.kind, 'pass')
  t.same(prints, ['real one', 'real two'])
})

t.test('a policy cannot replace the print sink', async (t) => {
  const s = await sandboxFor(
    t,
    `
    try { (globalThis as any).__bootpolicy_print = () => {} } catch {}
    try { delete (globalThis as any).__bootpolicy_print } catch {}
    print('still captured')
    return undefined`,
  )
  t.same(s.runTraced(CTX).prints, ['still captured'])
})

t.test('untraced (production /boot): print does nothing, not even serialize a value that would hang', async (t) => {
  const s = await sandboxFor(t, `print(new Proxy({}, { get() { for (;;) {} } })); return { kind: 'exit' }`)
  const t0 = performance.now()
  const outcome = s.runJson(CTX)
  t.equal(outcome.kind, 'decision', 'the hanging value was never read')
  t.ok(performance.now() - t0 < 250)
  // A traced run after an untraced one sees only its own lines.
  const s2 = await sandboxFor(t, `print('n', ctx.params.n ?? ''); return undefined`)
  s2.runJson(CTX)
  t.same(s2.runTraced(CTX).prints, ['n '])
})

t.test("bootpolicy test attaches each case's prints; load-time prints go nowhere", async (t) => {
  const dir = tempPolicies({
    'a.ts': `import { print, exit } from 'bootpolicy/policy'\nprint('at load')\nexport default (ctx: any) => { print('mac', ctx.mac); return ctx.mac ? exit() : undefined }`,
    'a.test.ts': `import { cases } from 'bootpolicy/policy'\nexport default cases([
      { name: 'with mac', request: { mac: '52:54:00:00:00:01' }, expect: { kind: 'exit' } },
      { name: 'none', request: {}, expect: null },
    ])`,
  })
  t.teardown(() => dir.remove())
  const results = await runPolicyTests(dir.policiesDir, LIMITS)
  t.same(
    results.map((r) => [r.name, r.status, r.prints]),
    [
      ['with mac', 'PASS', ['mac 52:54:00:00:00:01']],
      ['none', 'PASS', ['mac undefined']],
    ],
  )
})
