/**
 * Decisions that would explode: a DAG (menu items sharing one sub-menu object) or a huge tree is
 * refused by validation and by rendering within the budget, never expanded; a script over the
 * byte cap is refused. Direct calls, timed, with the heap measured.
 */
import t from 'tap'
import { buildContext } from '../../../core/context/build-context.js'
import { MAX_DECISION_NODES } from '../../../core/decision/decision-budget.js'
import type { Decision } from '../../../core/decision/types.js'
import { validateDecision } from '../../../core/decision/validate-decision.js'
import { isBootpolicyError } from '../../../core/errors/bp-error.js'
import { renderDecision } from '../../../core/ipxe/render-decision.js'
import { MAX_SCRIPT_BYTES } from '../../../core/ipxe/script-builder.js'

/** Depth levels of menus with `fan` items each, every item pointing at the same next-level object. */
function dag(depth: number, fan: number): Decision {
  let d: Decision = { kind: 'exit' }
  for (let level = 0; level < depth; level++) {
    const next: Decision = d
    d = { kind: 'menu', items: Array.from({ length: fan }, (_, i) => ({ id: `i${i}`, text: `item ${i}`, action: next })) }
  }
  return d
}

/** The same shape as a real tree: every node its own object. */
function tree(depth: number, fan: number): Decision {
  if (depth === 0) return { kind: 'exit' }
  return { kind: 'menu', items: Array.from({ length: fan }, (_, i) => ({ id: `i${i}`, text: `item ${i}`, action: tree(depth - 1, fan) })) }
}

const env = () => ({ context: buildContext({ query: new Map(), remoteAddress: '192.0.2.1' }).context, bootPath: '/boot', kinds: new Map() })

/** Median of the rounds: the machine is shared, one round can be descheduled. */
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

function once<T>(fn: () => T): { ms: number; value: T | undefined; error: unknown } {
  const t0 = performance.now()
  try {
    const value = fn()
    return { ms: performance.now() - t0, value, error: undefined }
  } catch (error) {
    return { ms: performance.now() - t0, value: undefined, error }
  }
}

/** Five runs; `ms` is their median. */
function timed<T>(fn: () => T): { ms: number; value: T | undefined; error: unknown } {
  const runs = Array.from({ length: 5 }, () => once(fn))
  return { ...runs[0]!, ms: median(runs.map((r) => r.ms)) }
}

t.test('hazard: decision DAG — depth 3 (and 4), fan-out 200, refused by validation in < 50 ms, memory flat', async (t) => {
  for (const depth of [3, 4]) {
    const decision = dag(depth, 200)
    const heap0 = process.memoryUsage().heapUsed
    const times: number[] = []
    for (let round = 0; round < 20; round++) {
      const r = once(() => validateDecision(decision))
      times.push(r.ms)
      const v = r.value!
      t.notOk(v.ok, 'refused')
      if (!v.ok && round === 0) {
        t.equal(v.code, 'BP_ERR_DECISION_SHARED_OBJECT', 'with the shared-object code')
        t.match(v.problems.join('\n'), /\$\.items\[0\]\.action(\.items\[0\]\.action)*\.items\[1\]\.action: the same object appears twice/, 'naming where')
      }
    }
    const grown = (process.memoryUsage().heapUsed - heap0) / 2 ** 20
    t.ok(median(times) < 50, `depth ${depth}: validation median ${median(times).toFixed(3)} ms, slowest ${Math.max(...times).toFixed(2)} ms`)
    t.ok(grown < 32, `depth ${depth}: heap grew ${grown.toFixed(1)} MB`)
  }
})

t.test("hazard: decision DAG — rendering refuses it in < 50 ms, memory flat (a prepare hook's output is not validated again)", async (t) => {
  for (const depth of [3, 4]) {
    const decision = dag(depth, 200)
    const heap0 = process.memoryUsage().heapUsed
    const times: number[] = []
    for (let round = 0; round < 20; round++) {
      const r = once(() => renderDecision(decision, env()))
      times.push(r.ms)
      t.ok(isBootpolicyError(r.error, 'BP_ERR_DECISION_SHARED_OBJECT'), 'refused with the shared-object code')
    }
    const grown = (process.memoryUsage().heapUsed - heap0) / 2 ** 20
    t.ok(median(times) < 50, `depth ${depth}: render median ${median(times).toFixed(3)} ms, slowest ${Math.max(...times).toFixed(2)} ms`)
    t.ok(grown < 32, `depth ${depth}: heap grew ${grown.toFixed(1)} MB`)
  }
})

t.test('hazard: huge decision — a tree past the node budget is refused at the budget, not walked further', async (t) => {
  // 1 + 200 × (1 menu + 1 list + 200 entries + 200 exits) ≈ 120,000 objects: over 10,000.
  const decision = tree(2, 200)
  const v = timed(() => validateDecision(decision))
  t.notOk(v.value!.ok)
  t.equal(v.value!.ok ? undefined : v.value!.code, 'BP_ERR_DECISION_TOO_LARGE')
  t.match(v.value!.ok ? '' : v.value!.problems.join('\n'), new RegExp(`more than ${MAX_DECISION_NODES} objects`))
  t.ok(v.ms < 50, `validation refused it in ${v.ms.toFixed(2)} ms (median of 5)`)
  const r = timed(() => renderDecision(decision, env()))
  t.ok(isBootpolicyError(r.error, 'BP_ERR_DECISION_TOO_LARGE'), 'rendering refuses it too')
  t.match(String((r.error as Error).message), /more than 10000 objects/)
  t.ok(r.ms < 50, `rendering refused it in ${r.ms.toFixed(2)} ms (median of 5)`)
  t.equal(MAX_DECISION_NODES, 10_000, 'the documented budget')
})

t.test('hazard: deep decision — a chain of 3,000 nested menus is refused by validation and rendering, no stack overflow', async (t) => {
  let d: Decision = { kind: 'exit' }
  for (let i = 0; i < 3000; i++) d = { kind: 'menu', items: [{ id: 'a', text: 'a', action: d }] }
  const v = timed(() => validateDecision(d))
  t.equal(v.error, undefined, 'validation did not throw')
  t.equal(v.value!.ok ? undefined : v.value!.code, 'BP_ERR_DECISION_TOO_LARGE')
  t.match(v.value!.ok ? '' : v.value!.problems.join('\n'), /menus nest deeper than 4/)
  t.ok(v.ms < 50, `validation refused it in ${v.ms.toFixed(2)} ms (median of 5)`)
  const r = timed(() => renderDecision(d, env()))
  t.ok(isBootpolicyError(r.error, 'BP_ERR_DECISION_TOO_LARGE'), 'rendering refuses it too')
  t.match(String((r.error as Error).message), /menus nest deeper than 4/)
  t.ok(r.ms < 50, `rendering refused it in ${r.ms.toFixed(2)} ms (median of 5)`)
})

t.test('a real decision under the budget still validates and renders', async (t) => {
  // 1 + 40 × (1 + 1 + 40 + 40) = 3,321 objects.
  const decision = tree(2, 40)
  t.ok(validateDecision(decision).ok)
  const script = renderDecision(decision, env())
  t.match(script, /:bp_m40_fail/)
  // One exit object reused by two items is a DAG too: refused, whatever its size.
  const exit: Decision = { kind: 'exit' }
  const shared = validateDecision({
    kind: 'menu',
    items: [
      { id: 'a', text: 'a', action: exit },
      { id: 'b', text: 'b', action: exit },
    ],
  })
  t.equal(shared.ok ? undefined : shared.code, 'BP_ERR_DECISION_SHARED_OBJECT')
})

t.test('hazard: rendered size — a valid decision whose script would pass 1 MiB is refused with BP_ERR_RENDER_TOO_LARGE', async (t) => {
  // 200 items of 2048 characters that must go through hex settings (3 bytes a character): ~1.2 MB.
  const text = '{'.repeat(2048)
  const decision: Decision = { kind: 'menu', items: Array.from({ length: 200 }, (_, i) => ({ id: `i${i}`, text, action: { kind: 'exit' } })) }
  t.ok(validateDecision(decision).ok, 'valid: every field is within its own limit')
  const r = timed(() => renderDecision(decision, env()))
  t.ok(isBootpolicyError(r.error, 'BP_ERR_RENDER_TOO_LARGE'), 'refused with the catalog code')
  t.match(String((r.error as Error).message), new RegExp(`${MAX_SCRIPT_BYTES} bytes`))
  t.equal(MAX_SCRIPT_BYTES, 1_048_576, 'the documented cap')
  const half = renderDecision({ kind: 'menu', items: decision.kind === 'menu' ? decision.items.slice(0, 100) : [] }, env())
  t.ok(half.length < MAX_SCRIPT_BYTES && half.length > 500_000, `100 such items render (${half.length} bytes)`)
})
