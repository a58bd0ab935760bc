/**
 * Why this file exists: under NODE_V8_COVERAGE, a thread that dropped isolated-vm handles (an
 * Isolate, Context, Script or Reference that became garbage) can abort the process when it exits.
 * Node frees a thread's environment in this order: cleanup hooks (isolated-vm forgets the thread's
 * IsolateEnvironment), then at-exit callbacks, where the coverage writer's JSON.stringify allocates,
 * may start a GC, and the GC runs isolated-vm's weak callbacks (ClassHandle::WeakCallback), which
 * assert on the missing environment (`IsolateEnvironment::GetCurrent()`, SIGABRT). Policy workers
 * write their coverage themselves and are started without NODE_V8_COVERAGE (worker-coverage.ts),
 * collecting such garbage before each write (a terminated worker's inspector session may still
 * allocate at exit); the main thread (in-process policy sets, `bootpolicy test`) collects such garbage on 'exit',
 * which runs before the cleanup hooks. Without coverage this does nothing.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

let gc: (() => void) | undefined

/** A full GC of this thread's heap (coverage runs only: it costs a few ms). */
export function collectDroppedHandles(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc')
    gc = runInNewContext('gc') as () => void
  }
  gc()
}

let registered = false

/** Registers (once, under coverage only) a full GC of this thread's heap on process 'exit'. */
export function collectAtExit(): void {
  if (registered || !process.env.NODE_V8_COVERAGE) return
  registered = true
  process.once('exit', collectDroppedHandles)
}
