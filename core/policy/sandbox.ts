/**
 * One compiled policy inside its own isolated-vm isolate, called through the hardened wrapper of
 * isolate-wrapper.ts: the context goes in as a JSON string, only a string comes out, and all work
 * on policy values (serializing the result, reading a thrown value) happens inside the isolate
 * under `timeoutMs`. The isolate's global holds only the policy and a no-op console: no require,
 * process, timers, fs, network, WebAssembly, SharedArrayBuffer or Atomics. A memory bomb disposes
 * the isolate, and the next call rebuilds it; isolated-vm's caveat applies: hostile code can
 * overshoot the memory limit somewhat before it is stopped.
 * The server runs these inside worker threads (policy-worker.ts); `bootpolicy test` and the
 * benchmarks use them in-process.
 */
import ivm from 'isolated-vm'
import { BootpolicyError, type ErrorParams } from '../errors/bp-error.js'
import type { ErrorCode } from '../errors/catalog.js'
import type { CompiledPolicy } from './compile-policy.js'
import { DATA_LIMITS, DECISION_LIMITS, loadedScript, wrapperSource } from './isolate-wrapper.js'
import { collectAtExit } from './collect-handles.js'
import { locationFromStack } from './source-location.js'

export interface SandboxLimits {
  readonly timeoutMs: number
  readonly memoryMb: number
}

/** What one call produced, as plain data that can cross a thread boundary. */
export type RawOutcome = { readonly kind: 'pass' } | { readonly kind: 'decision'; readonly json: string } | { readonly kind: 'error'; readonly code: ErrorCode; readonly params: ErrorParams }

export type ErrorOutcome = Extract<RawOutcome, { kind: 'error' }>

type Wrapper = ivm.Reference<(op: string, arg?: string) => string>

// Under coverage, a thread that used isolates must leave no isolated-vm garbage for Node's exit-time writer (collect-handles.ts).
collectAtExit()

export class PolicySandbox {
  private isolate: ivm.Isolate | undefined
  private call: Wrapper | undefined

  /** `data` modules (policy test files) export values, not a function. */
  constructor(
    readonly policy: CompiledPolicy,
    private readonly limits: SandboxLimits,
    private readonly mode: 'policy' | 'data' = 'policy',
  ) {}

  /** Build the isolate now (at load time) rather than on the first request; throws what loading threw. */
  warm(): void {
    const failed = this.ensure()
    if (failed) throw toError(failed)
  }

  /** Run the policy on a context given as JSON; never throws. */
  runJson(ctxJson: string): RawOutcome {
    const failed = this.ensure()
    if (failed) return failed
    return this.invoke('run', ctxJson)
  }

  /**
   * Run with print() captured (tests, explain): its lines, serialized inside the isolate, come
   * back even when the call then timed out or threw. A memory bomb disposes the isolate and them.
   */
  runTraced(ctxJson: string): { outcome: RawOutcome; prints: string[] } {
    const failed = this.ensure()
    if (failed) return { outcome: failed, prints: [] }
    try {
      this.call!.applySync(undefined, ['trace'], { timeout: this.limits.timeoutMs })
    } catch (err) {
      return { outcome: this.hostFailure(err), prints: [] }
    }
    const outcome = this.invoke('run', ctxJson)
    return { outcome, prints: this.takePrints() }
  }

  private takePrints(): string[] {
    if (!this.isolate || this.isolate.isDisposed || !this.call) return []
    try {
      return parsePrints(this.call.applySync(undefined, ['prints'], { timeout: this.limits.timeoutMs }))
    } catch {
      return []
    }
  }

  /** Run the policy on a plain-data context; returns the decision (parsed) or throws a BootpolicyError. */
  run(ctx: object): unknown {
    return unwrap(this.runJson(JSON.stringify(ctx)))
  }

  /** Evaluate the module and return a named export (used to read test cases). */
  exportValue(name: string): unknown {
    const failed = this.ensure()
    if (failed) throw toError(failed)
    return unwrap(this.invoke('export', name))
  }

  /** CPU time the isolate has used, in ns (for decision records and benchmarks). */
  cpuTimeNs(): bigint {
    return this.isolate && !this.isolate.isDisposed ? this.isolate.cpuTime : 0n
  }

  dispose(): void {
    if (this.isolate && !this.isolate.isDisposed) this.isolate.dispose()
    this.isolate = undefined
    this.call = undefined
  }

  private invoke(op: 'run' | 'export', arg: string): RawOutcome {
    let out: unknown
    try {
      out = this.call!.applySync(undefined, [op, arg], { timeout: this.limits.timeoutMs })
    } catch (err) {
      return this.hostFailure(err)
    }
    return this.decode(out)
  }

  /** undefined when ready; otherwise why the policy cannot run. */
  private ensure(): ErrorOutcome | undefined {
    if (this.isolate && !this.isolate.isDisposed && this.call) return undefined
    this.dispose()
    const isolate = new ivm.Isolate({ memoryLimit: this.limits.memoryMb })
    this.isolate = isolate
    try {
      const context = isolate.createContextSync()
      // The wrapper exists before any policy code runs: its captured intrinsics cannot be patched.
      const call = context.evalSync(wrapperSource(this.mode === 'data' ? DATA_LIMITS : DECISION_LIMITS), { reference: true }) as Wrapper
      const script = isolate.compileScriptSync(loadedScript(this.policy.code), { filename: `${this.policy.name}.js` })
      script.runSync(context, { timeout: this.limits.timeoutMs })
      const bound = call.applySync(undefined, ['bind'], { timeout: this.limits.timeoutMs })
      if (bound === 'F' && this.mode === 'policy') {
        this.dispose()
        return { kind: 'error', code: 'BP_ERR_POLICY_COMPILE', params: { policy: this.policy.name, details: 'the default export is not a function' } }
      }
      if (bound !== 'U' && bound !== 'F') {
        const failed = this.decode(bound)
        this.dispose()
        return failed.kind === 'error' ? failed : lastResort(this.policy.name)
      }
      this.call = call
      return undefined
    } catch (err) {
      const failed = this.hostFailure(err)
      this.dispose()
      return failed
    }
  }

  /** Errors raised by isolated-vm itself (time limit, memory limit, syntax): host objects, safe to read. */
  private hostFailure(err: unknown): ErrorOutcome {
    const policy = this.policy.name
    // A string is an unhandled promise rejection, made a string inside the isolate (isolate-wrapper.ts).
    if (typeof err === 'string') {
      return { kind: 'error', code: 'BP_ERR_POLICY_THREW', params: { policy, location: this.policy.entry, details: err.slice(0, 2000) } }
    }
    const message = err instanceof Error && typeof err.message === 'string' ? err.message.slice(0, 2000) : 'unknown isolate failure'
    if (this.isolate?.isDisposed || /memory limit|disposed/i.test(message)) {
      this.dispose()
      return { kind: 'error', code: 'BP_ERR_POLICY_MEMORY', params: { policy, memoryMb: this.limits.memoryMb } }
    }
    if (/timed out/i.test(message)) {
      return { kind: 'error', code: 'BP_ERR_POLICY_TIMEOUT', params: { policy, timeoutMs: this.limits.timeoutMs, location: this.policy.entry } }
    }
    const stack = err instanceof Error && typeof err.stack === 'string' ? err.stack.slice(0, 4000) : undefined
    return { kind: 'error', code: 'BP_ERR_POLICY_THREW', params: { policy, location: locationFromStack(this.policy, stack), details: message } }
  }

  private decode(out: unknown): RawOutcome {
    const policy = this.policy.name
    if (typeof out !== 'string' || out.length === 0) return lastResort(policy)
    switch (out[0]) {
      case 'U':
        return { kind: 'pass' }
      case 'R':
        return { kind: 'decision', json: out.slice(1) }
      case 'G':
        return { kind: 'error', code: 'BP_ERR_POLICY_BAD_DECISION', params: { policy, details: `returned a value that is not plain data (${parseQuoted(out.slice(1))})` } }
      case 'S':
        // Not the policy's fault: it needs state the host could not read (core/engine/state-failsafe.ts).
        return { kind: 'error', code: 'BP_ERR_STATE_UNAVAILABLE', params: { target: `holding ctx.${parseQuoted(out.slice(1))}`, details: `policy ${policy} reads it` } }
      case 'E': {
        const nl = out.indexOf('\n')
        const message = parseQuoted(out.slice(1, nl))
        const stack = parseQuoted(out.slice(nl + 1))
        return { kind: 'error', code: 'BP_ERR_POLICY_THREW', params: { policy, location: locationFromStack(this.policy, stack), details: message } }
      }
      default:
        return lastResort(policy)
    }
  }
}

function lastResort(policy: string): ErrorOutcome {
  return { kind: 'error', code: 'BP_ERR_POLICY_THREW', params: { policy, location: policy, details: 'the policy failed in a way that cannot be described' } }
}

/** The wrapper's hand-built JSON array of strings; anything else is no prints. */
function parsePrints(out: unknown): string[] {
  if (typeof out !== 'string') return []
  try {
    const v: unknown = JSON.parse(out)
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
  } catch {
    return []
  }
}

function parseQuoted(s: string): string {
  try {
    const v: unknown = JSON.parse(s)
    return typeof v === 'string' ? v : ''
  } catch {
    return ''
  }
}

export function toError(outcome: ErrorOutcome): BootpolicyError {
  return new BootpolicyError(outcome.code, outcome.params)
}

function unwrap(outcome: RawOutcome): unknown {
  if (outcome.kind === 'error') throw toError(outcome)
  return outcome.kind === 'pass' ? undefined : JSON.parse(outcome.json)
}
