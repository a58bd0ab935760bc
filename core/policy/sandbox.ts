/**
 * One compiled policy inside its own isolated-vm isolate.
 * The isolate's global holds only the policy and a no-op console: no require, process, timers,
 * fs or network. Calls are synchronous (3–4 µs round trip) and bounded by `timeoutMs`; a memory
 * bomb disposes the isolate, and the next call rebuilds it. isolated-vm's own caveat applies:
 * hostile code can overshoot the memory limit somewhat before it is stopped.
 */
import ivm from 'isolated-vm'
import { BootpolicyError, messageOf } from '../errors/bp-error.js'
import { GLOBAL_NAME, type CompiledPolicy } from './compile-policy.js'
import { locationFromStack } from './source-location.js'

export interface SandboxLimits {
  readonly timeoutMs: number
  readonly memoryMb: number
}

// Runs inside the isolate once per context: a console that does nothing, and the call wrapper
// that hands the result back as a plain copy.
const PRELUDE = `
globalThis.console = { log() {}, info() {}, warn() {}, error() {}, debug() {} };
`

export class PolicySandbox {
  private isolate: ivm.Isolate | undefined
  private fn: ivm.Reference<(ctx: unknown) => unknown> | undefined

  /** `data` modules (policy test files) export values, not a function. */
  constructor(readonly policy: CompiledPolicy, private readonly limits: SandboxLimits, private readonly mode: 'policy' | 'data' = 'policy') {}

  /** Build the isolate now (at load time) rather than on the first request. */
  warm(): void {
    this.ensure()
  }

  /** Run the policy on a plain-data context; returns whatever it returned, copied out. */
  run(ctx: object): unknown {
    const fn = this.ensure()
    try {
      return fn.applySync(undefined, [new ivm.ExternalCopy(ctx).copyInto({ release: true })], {
        timeout: this.limits.timeoutMs,
        result: { copy: true },
      })
    } catch (err) {
      throw this.translate(err)
    }
  }

  /** Evaluate the module and return a named export (used to read test cases). */
  exportValue(name: string): unknown {
    this.ensure()
    const context = this.contextRef!
    // evalSync with copy returns plain data only
    try {
      return context.evalSync(`${GLOBAL_NAME}[${JSON.stringify(name)}]`, { timeout: this.limits.timeoutMs, copy: true })
    } catch (err) {
      throw this.translate(err)
    }
  }

  /** CPU time the isolate has used, in ns (for decision records and benchmarks). */
  cpuTimeNs(): bigint {
    return this.isolate && !this.isolate.isDisposed ? this.isolate.cpuTime : 0n
  }

  dispose(): void {
    if (this.isolate && !this.isolate.isDisposed) this.isolate.dispose()
    this.isolate = undefined
    this.fn = undefined
  }

  private contextRef: ivm.Context | undefined

  private ensure(): ivm.Reference<(ctx: unknown) => unknown> {
    if (this.isolate && !this.isolate.isDisposed && this.fn) return this.fn
    this.dispose()
    const isolate = new ivm.Isolate({ memoryLimit: this.limits.memoryMb })
    try {
      const context = isolate.createContextSync()
      context.evalSync(PRELUDE)
      const script = isolate.compileScriptSync(this.policy.code, { filename: `${this.policy.name}.js` })
      script.runSync(context, { timeout: this.limits.timeoutMs })
      const fn = context.evalSync(`(() => { const m = ${GLOBAL_NAME}; const f = m && (m.default ?? m); return typeof f === 'function' ? f : undefined })()`, {
        reference: true,
      }) as ivm.Reference<(ctx: unknown) => unknown>
      if (fn.typeof !== 'function' && this.mode === 'policy') {
        throw new BootpolicyError('BP_ERR_POLICY_COMPILE', { policy: this.policy.name, details: 'the default export is not a function' })
      }
      this.isolate = isolate
      this.contextRef = context
      this.fn = fn
      return fn
    } catch (err) {
      if (!isolate.isDisposed) isolate.dispose()
      throw err instanceof BootpolicyError ? err : this.translate(err)
    }
  }

  private translate(err: unknown): BootpolicyError {
    if (err instanceof BootpolicyError) return err
    const message = messageOf(err)
    const policy = this.policy.name
    if (this.isolate?.isDisposed || /memory limit|disposed/i.test(message)) {
      this.dispose()
      return new BootpolicyError('BP_ERR_POLICY_MEMORY', { policy, memoryMb: this.limits.memoryMb }, { cause: err })
    }
    if (/timed out/i.test(message)) {
      return new BootpolicyError('BP_ERR_POLICY_TIMEOUT', { policy, timeoutMs: this.limits.timeoutMs, location: this.policy.entry }, { cause: err })
    }
    if (/could not be cloned|#<Object> could not be cloned|non-transferable/i.test(message)) {
      return new BootpolicyError('BP_ERR_POLICY_BAD_DECISION', { policy, details: `returned a value that is not plain data (${message})` }, { cause: err })
    }
    const stack = err instanceof Error ? err.stack : undefined
    return new BootpolicyError('BP_ERR_POLICY_THREW', { policy, location: locationFromStack(this.policy, stack), details: message }, { cause: err })
  }
}
