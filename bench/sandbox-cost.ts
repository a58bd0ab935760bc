/**
 * Per-decision sandbox cost: the menu example policy run through PolicySandbox.run (context copied
 * in, decision copied out), against the bare isolated-vm round trip of a function that returns
 * undefined with the same copied argument. Median of 50 batches of 2,000 calls.
 */
import { join } from 'node:path'
import ivm from 'isolated-vm'
import { buildContext } from '../core/context/build-context.js'
import { PACKAGE_ROOT } from '../core/config/load-config.js'
import { compilePolicy } from '../core/policy/compile-policy.js'
import { PolicySandbox } from '../core/policy/sandbox.js'
import type { BenchResult } from './lib.js'

function medianUs(fn: () => void, batches = 50, size = 2000): number {
  const per: number[] = []
  for (let b = 0; b < batches; b++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < size; i++) fn()
    per.push(Number(process.hrtime.bigint() - t0) / 1000 / size)
  }
  per.sort((a, b) => a - b)
  return per[Math.floor(per.length / 2)]!
}

export async function run(): Promise<BenchResult> {
  const dir = join(PACKAGE_ROOT, 'policies')
  const { context } = buildContext({
    query: new Map([
      ['mac', '52:54:00:12:34:56'],
      ['buildarch', 'x86_64'],
      ['platform', 'efi'],
      ['serial', 'SN-1'],
    ]),
    remoteAddress: '127.0.0.1',
  })
  const menu = new PolicySandbox(await compilePolicy(join(dir, '50-menu.ts'), dir), { timeoutMs: 50, memoryMb: 32 })
  const perMac = new PolicySandbox(await compilePolicy(join(dir, '10-per-mac.ts'), dir), { timeoutMs: 50, memoryMb: 32 })

  const isolate = new ivm.Isolate({ memoryLimit: 32 })
  const ctx = isolate.createContextSync()
  const noop = ctx.evalSync('(() => undefined)', { reference: true }) as ivm.Reference<(x: unknown) => unknown>
  const baseline = medianUs(() => noop.applySync(undefined, [new ivm.ExternalCopy(context).copyInto({ release: true })], { timeout: 50, result: { copy: true } }))
  const passing = medianUs(() => perMac.run(context))
  const deciding = medianUs(() => menu.run(context))
  isolate.dispose()
  menu.dispose()
  perMac.dispose()
  return {
    name: 'sandbox cost per decision',
    figures: [
      { name: 'bare isolated-vm round trip (copied context)', value: round(baseline), unit: 'µs' },
      { name: 'policy that passes (10-per-mac.ts)', value: round(passing), unit: 'µs', ratio: passing / baseline, baseline: 'bare round trip', target: '≤ 20 µs' },
      { name: 'policy that returns a menu (50-menu.ts)', value: round(deciding), unit: 'µs', ratio: deciding / baseline, baseline: 'bare round trip', target: '≤ 20 µs' },
    ],
  }
}

const round = (n: number) => Math.round(n * 100) / 100

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await run(), null, 2))
}
