/**
 * A small pool of worker threads that run the policies (policy-worker.ts), so that no policy code
 * runs on the main thread. The main thread sends a context as a JSON string and gets back one
 * string per request. Each worker runs one batch at a time; requests that find no idle worker
 * queue here and leave in batches, which keeps the main thread's cost per decision low under load.
 * A watchdog checks every 25 ms that no unit of policy work (building or calling one policy) has
 * run longer than timeoutMs + marginMs: such a worker is terminated and replaced, the request it
 * was running gets BP_ERR_POLICY_TIMEOUT and every other request it held is dispatched again.
 * A worker that dies on its own is replaced the same way (BP_ERR_POLICY_WORKER for its request).
 */
import { Worker } from 'node:worker_threads'
import type { ErrorParams } from '../errors/bp-error.js'
import type { ErrorCode } from '../errors/catalog.js'
import type { PolicyProblem } from './policy-set.js'
import { BootpolicyError } from '../errors/bp-error.js'
import { encodeChain, PROGRESS, type FromWorker, type PolicyCode, type ToWorker, type WorkerSettings } from './worker-protocol.js'

export interface WorkerPoolOptions extends WorkerSettings {
  readonly size: number
  /** Allowed beyond timeoutMs for one unit of policy work before the watchdog steps in. */
  readonly marginMs?: number
  /** Called when a worker was replaced (for the log). */
  readonly onReplace?: (info: { reason: 'watchdog' | 'exit'; policy?: string; exitCode?: number }) => void
}

/** Requests a worker takes at once: amortizes the message cost, bounds what a lost worker re-dispatches. */
const BATCH = 32
const WATCHDOG_MS = 25
/** A request that waited this long for any worker at all gets the failsafe. */
const QUEUE_LIMIT_MS = 5000

interface Job {
  readonly seq: number
  readonly ctx: string
  readonly from: number
  readonly queuedAt: number
  readonly resolve: (out: string) => void
}

interface Slot {
  worker: Worker
  ready: boolean
  batch: Job[] | undefined
  readonly progress: Float64Array
  readonly verifies: Map<number, (problems: PolicyProblem[]) => void>
  deaths: number[]
  killed: boolean
}

const here = import.meta.url
const fromSource = here.endsWith('.ts')

export class WorkerPool {
  private readonly slots: Slot[] = []
  private readonly queue: Job[] = []
  private policies: readonly PolicyCode[] = []
  private seq = 0
  private verifyId = 0
  private closed = false
  private readonly watchdog: NodeJS.Timeout
  private readonly budgetMs: number

  constructor(private readonly options: WorkerPoolOptions) {
    this.budgetMs = options.limits.timeoutMs + (options.marginMs ?? Math.max(250, options.limits.timeoutMs))
    for (let i = 0; i < Math.max(1, options.size); i++) this.slots.push(this.spawn([]))
    this.watchdog = setInterval(() => this.check(), WATCHDOG_MS)
    this.watchdog.unref()
  }

  get size(): number {
    return this.slots.length
  }

  /** The workers (tests terminate them from outside). */
  get workers(): readonly Worker[] {
    return this.slots.map((s) => s.worker)
  }

  /** Load `policies` in every worker; requests sent after this call see them (messages are ordered). */
  install(policies: readonly PolicyCode[]): void {
    this.policies = policies.map(codeOf)
    for (const slot of this.slots) slot.worker.postMessage({ t: 'install', policies: this.policies } satisfies ToWorker)
  }

  /** Build each policy once in a worker (its top-level code runs there); the ones that fail. */
  verify(policies: readonly PolicyCode[]): Promise<PolicyProblem[]> {
    if (policies.length === 0) return Promise.resolve([])
    const slot = this.slots.find((s) => s.ready && !s.batch) ?? this.slots[0]!
    const id = ++this.verifyId
    return new Promise((resolve) => {
      slot.verifies.set(id, resolve)
      slot.worker.postMessage({ t: 'verify', id, policies: policies.map(codeOf) } satisfies ToWorker)
    })
  }

  /** Run the chain from policy `from` on a context (JSON); resolves with the encoded chain (worker-protocol.ts). */
  run(ctxJson: string, from = 0): Promise<string> {
    if (this.closed) return Promise.resolve(failure('BP_ERR_POLICY_WORKER', { details: 'the server is closing' }))
    return new Promise((resolve) => {
      this.queue.push({ seq: ++this.seq, ctx: ctxJson, from, queuedAt: Date.now(), resolve })
      const idle = this.slots.find((s) => s.ready && !s.batch)
      if (idle) this.dispatch(idle)
    })
  }

  /** Test hook: a request whose context contains `marker` hangs its worker's thread (current workers only). */
  hangForTest(marker: string): void {
    for (const slot of this.slots) slot.worker.postMessage({ t: 'test-hang', marker } satisfies ToWorker)
  }

  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.watchdog)
    for (const job of this.queue.splice(0)) job.resolve(failure('BP_ERR_POLICY_WORKER', { details: 'the server is closing' }))
    await Promise.all(this.slots.map((s) => {
      s.killed = true
      for (const job of s.batch ?? []) job.resolve(failure('BP_ERR_POLICY_WORKER', { details: 'the server is closing' }))
      s.batch = undefined
      for (const done of s.verifies.values()) done([])
      return s.worker.terminate()
    }))
  }

  private spawn(deaths: number[]): Slot {
    const progress = new Float64Array(new SharedArrayBuffer(PROGRESS.length * 8))
    const settings: WorkerSettings = { limits: this.options.limits, onError: this.options.onError }
    const workerData = { settings, progress: progress.buffer }
    const entry = new URL(`./policy-worker${fromSource ? '.ts' : '.js'}`, here)
    // Under tsx (tests, benchmarks) the worker must register the TypeScript loader itself.
    const worker = fromSource
      ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry.href)}) })`, { eval: true, workerData })
      : new Worker(entry, { workerData })
    worker.unref()
    const slot: Slot = { worker, ready: false, batch: undefined, progress, verifies: new Map(), deaths, killed: false }
    worker.on('message', (msg: FromWorker) => this.onMessage(slot, msg))
    worker.on('error', () => undefined) // 'exit' follows; the error itself may carry policy text
    worker.on('exit', (code) => this.onExit(slot, code))
    if (this.policies.length) worker.postMessage({ t: 'install', policies: this.policies } satisfies ToWorker)
    return slot
  }

  private onMessage(slot: Slot, msg: FromWorker): void {
    if (slot.killed) return
    if (msg.t === 'ready') {
      slot.ready = true
      this.dispatch(slot)
      return
    }
    if (msg.t === 'verified') {
      const done = slot.verifies.get(msg.id)
      slot.verifies.delete(msg.id)
      done?.(decodeProblems(msg.problems))
      return
    }
    const batch = slot.batch ?? []
    slot.batch = undefined
    const bySeq = new Map(batch.map((j) => [j.seq, j]))
    for (let i = 0; i < msg.seqs.length; i++) bySeq.get(msg.seqs[i]!)?.resolve(msg.outs[i]!)
    this.dispatch(slot)
  }

  private dispatch(slot: Slot): void {
    if (!slot.ready || slot.batch || this.queue.length === 0 || slot.killed) return
    const jobs = this.queue.splice(0, BATCH)
    slot.batch = jobs
    slot.worker.postMessage({ t: 'run', seqs: jobs.map((j) => j.seq), ctxs: jobs.map((j) => j.ctx), froms: jobs.map((j) => j.from) } satisfies ToWorker)
  }

  private check(): void {
    const now = Date.now()
    for (const slot of this.slots) {
      const started = slot.progress[PROGRESS.startedAt]!
      if (!slot.killed && started > 0 && now - started > this.budgetMs) this.replace(slot, 'watchdog')
    }
    while (this.queue.length && now - this.queue[0]!.queuedAt > Math.max(QUEUE_LIMIT_MS, this.budgetMs * 4)) {
      this.queue.shift()!.resolve(failure('BP_ERR_POLICY_WORKER', { details: 'no policy worker answered in time' }))
    }
  }

  private onExit(slot: Slot, code: number): void {
    if (slot.killed || this.closed) return
    this.replace(slot, 'exit', code)
  }

  /** Terminate a worker, answer the request it was running, re-queue the others, start a new one. */
  private replace(slot: Slot, reason: 'watchdog' | 'exit', exitCode?: number): void {
    slot.killed = true
    const guiltySeq = slot.progress[PROGRESS.startedAt]! > 0 ? slot.progress[PROGRESS.seq]! : -1
    const index = slot.progress[PROGRESS.policy]!
    const policy = this.policies[index]
    const batch = slot.batch ?? []
    slot.batch = undefined
    const again: Job[] = []
    for (const job of batch) {
      if (job.seq !== guiltySeq) again.push(job)
      else if (reason === 'watchdog' && policy) {
        job.resolve(failure('BP_ERR_POLICY_TIMEOUT', { policy: policy.name, timeoutMs: this.options.limits.timeoutMs, location: policy.entry }, policy.name))
      } else job.resolve(failure('BP_ERR_POLICY_WORKER', { details: reason === 'watchdog' ? 'the policy worker stopped answering' : 'the policy worker stopped' }, policy?.name))
    }
    this.queue.unshift(...again)
    for (const done of slot.verifies.values()) done([]) // the new worker loads the policies again
    void slot.worker.terminate()
    this.options.onReplace?.({ reason, policy: policy?.name, exitCode })
    if (this.closed) return
    // A worker that keeps dying is restarted at most every second.
    const now = Date.now()
    const deaths = [...slot.deaths.filter((t) => now - t < 10_000), now]
    const delay = deaths.length > 3 ? 1000 : 0
    const i = this.slots.indexOf(slot)
    const start = (): void => {
      if (this.closed) return
      this.slots[i] = this.spawn(deaths)
    }
    if (delay) setTimeout(start, delay).unref()
    else start()
  }
}

function codeOf(p: PolicyCode): PolicyCode {
  return { name: p.name, file: p.file, hash: p.hash, code: p.code, map: p.map, entry: p.entry }
}

function failure(code: ErrorCode, params: ErrorParams, policy = 'policies'): string {
  return encodeChain({ steps: [{ p: policy, o: 'error', us: 0, code, params }], decided: -1, cpuNs: 0 })
}

function decodeProblems(json: string): PolicyProblem[] {
  const list = JSON.parse(json) as { policy: string; code: ErrorCode; params: ErrorParams }[]
  return list.map((p) => ({ policy: p.policy, code: p.code, message: new BootpolicyError(p.code, p.params).message }))
}
