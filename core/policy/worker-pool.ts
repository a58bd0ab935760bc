/**
 * A small pool of worker threads that run the policies (policy-worker.ts), so that no policy code
 * runs on the main thread. The main thread sends a context as a JSON string and gets back one
 * string per request. Each worker runs one batch at a time; requests that find no idle worker
 * queue here and leave in batches, which keeps the main thread's cost per decision low under load.
 * A watchdog checks every 25 ms that no unit of policy work (building or calling one policy) has
 * run longer than timeoutMs + marginMs: such a worker is terminated and replaced, the request it
 * was running gets BP_ERR_POLICY_TIMEOUT and every other request it held is dispatched again.
 * A worker that dies on its own is replaced the same way (BP_ERR_POLICY_WORKER for its request).
 * A verify request the watchdog stopped gets BP_ERR_POLICY_TIMEOUT for the policy it was loading
 * (so that policy is not installed); the other verifies it held are sent to the new worker.
 * Quarantine: a hang that no isolate time limit stops (isolated-vm reading a hostile value on the
 * worker's thread) costs one worker per distinct request. After QUARANTINE_KILLS watchdog kills
 * charged to one policy revision, that revision fails every request with BP_ERR_POLICY_QUARANTINED
 * without running, in every worker, until the file is edited (a new hash); other policies keep running.
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
  /** Called once when a policy revision is quarantined (for the log). */
  readonly onQuarantine?: (info: { policy: string; hash: string; kills: number }) => void
}

/** Watchdog kills charged to one policy revision before it is quarantined. */
export const QUARANTINE_KILLS = 2

interface PendingVerify {
  readonly policies: readonly PolicyCode[]
  readonly done: (problems: PolicyProblem[]) => void
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
  readonly trace: boolean
  readonly queuedAt: number
  readonly resolve: (out: string) => void
}

interface Slot {
  worker: Worker
  ready: boolean
  batch: Job[] | undefined
  readonly progress: Float64Array
  readonly verifies: Map<number, PendingVerify>
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
  /** Watchdog kills per policy hash, and the hashes quarantined (name kept for /healthz). */
  private readonly kills = new Map<string, number>()
  private readonly quarantine = new Map<string, string>()
  private testHangPolicy: string | undefined

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
    this.broadcastInstall()
  }

  /** Quarantined policies of the current chain, as problems (for /healthz). */
  get quarantined(): { policy: string; code: 'BP_ERR_POLICY_QUARANTINED'; message: string }[] {
    return this.policies
      .filter((p) => this.quarantine.has(p.hash))
      .map((p) => ({
        policy: p.name,
        code: 'BP_ERR_POLICY_QUARANTINED' as const,
        message: new BootpolicyError('BP_ERR_POLICY_QUARANTINED', { policy: p.name }).message,
      }))
  }

  private broadcastInstall(): void {
    for (const slot of this.slots) if (!slot.killed) slot.worker.postMessage(this.installMessage())
  }

  private installMessage(): ToWorker {
    return { t: 'install', policies: this.policies, quarantined: [...this.quarantine.keys()] }
  }

  /** Build each policy once in a worker (its top-level code runs there); the ones that fail. */
  verify(policies: readonly PolicyCode[]): Promise<PolicyProblem[]> {
    if (policies.length === 0) return Promise.resolve([])
    const slot = this.slots.find((s) => s.ready && !s.batch) ?? this.slots[0]!
    const id = ++this.verifyId
    return new Promise((resolve) => {
      const codes = policies.map(codeOf)
      slot.verifies.set(id, { policies: codes, done: resolve })
      slot.worker.postMessage({ t: 'verify', id, policies: codes } satisfies ToWorker)
    })
  }

  /** Run the chain from policy `from` on a context (JSON); resolves with the encoded chain (worker-protocol.ts). */
  run(ctxJson: string, from = 0, trace = false): Promise<string> {
    if (this.closed) return Promise.resolve(failure('BP_ERR_POLICY_WORKER', { details: 'the server is closing' }))
    return new Promise((resolve) => {
      this.queue.push({ seq: ++this.seq, ctx: ctxJson, from, trace, queuedAt: Date.now(), resolve })
      const idle = this.slots.find((s) => s.ready && !s.batch)
      if (idle) this.dispatch(idle)
    })
  }

  /** Test hook: a request whose context contains `marker` hangs its worker's thread (current workers only). */
  hangForTest(marker: string): void {
    for (const slot of this.slots) slot.worker.postMessage({ t: 'test-hang', marker } satisfies ToWorker)
  }

  /** Test hook: verifying a policy whose code contains `marker`, or running it on a context containing it, hangs its worker (replacement workers too). */
  hangPolicyForTest(marker: string): void {
    this.testHangPolicy = marker
    for (const slot of this.slots) slot.worker.postMessage({ t: 'test-hang-policy', marker } satisfies ToWorker)
  }

  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.watchdog)
    for (const job of this.queue.splice(0)) job.resolve(failure('BP_ERR_POLICY_WORKER', { details: 'the server is closing' }))
    await Promise.all(
      this.slots.map((s) => {
        s.killed = true
        for (const job of s.batch ?? []) job.resolve(failure('BP_ERR_POLICY_WORKER', { details: 'the server is closing' }))
        s.batch = undefined
        for (const v of s.verifies.values()) v.done(v.policies.map((p) => problemOf(p, 'BP_ERR_POLICY_WORKER', { details: 'the server is closing' })))
        return s.worker.terminate()
      }),
    )
  }

  private spawn(deaths: number[], verifies = new Map<number, PendingVerify>()): Slot {
    const progress = new Float64Array(new SharedArrayBuffer(PROGRESS.length * 8))
    const settings: WorkerSettings = { limits: this.options.limits, onError: this.options.onError }
    // Under coverage the worker writes its own (worker-coverage.ts): Node's exit-time writer can abort it.
    const coverageDir = process.env.NODE_V8_COVERAGE
    const env = { ...process.env }
    delete env.NODE_V8_COVERAGE
    const workerData = { settings, progress: progress.buffer, ...(coverageDir && { coverageDir }) }
    const entry = new URL(`./policy-worker${fromSource ? '.ts' : '.js'}`, here)
    // Under tsx (tests, benchmarks) the worker must register the TypeScript loader itself.
    const worker = fromSource
      ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry.href)}) })`, { eval: true, workerData, env })
      : new Worker(entry, { workerData, env })
    worker.unref()
    const slot: Slot = { worker, ready: false, batch: undefined, progress, verifies, deaths, killed: false }
    worker.on('message', (msg: FromWorker) => this.onMessage(slot, msg))
    worker.on('error', () => undefined) // 'exit' follows; the error itself may carry policy text
    worker.on('exit', (code) => this.onExit(slot, code))
    if (this.testHangPolicy !== undefined) worker.postMessage({ t: 'test-hang-policy', marker: this.testHangPolicy } satisfies ToWorker)
    if (this.policies.length) worker.postMessage(this.installMessage())
    for (const [id, v] of verifies) worker.postMessage({ t: 'verify', id, policies: v.policies } satisfies ToWorker)
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
      const pending = slot.verifies.get(msg.id)
      slot.verifies.delete(msg.id)
      pending?.done(decodeProblems(msg.problems))
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
    const traced = jobs.filter((j) => j.trace).map((j) => j.seq)
    slot.worker.postMessage({ t: 'run', seqs: jobs.map((j) => j.seq), ctxs: jobs.map((j) => j.ctx), froms: jobs.map((j) => j.from), ...(traced.length && { traced }) } satisfies ToWorker)
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
    const busy = slot.progress[PROGRESS.startedAt]! > 0
    const index = slot.progress[PROGRESS.policy]!
    const verifying = busy ? slot.verifies.get(slot.progress[PROGRESS.verify]!) : undefined
    const policy = verifying ? verifying.policies[index] : this.policies[index]
    const batch = slot.batch ?? []
    slot.batch = undefined
    const again: Job[] = []
    for (const job of batch) {
      if (job.seq !== guiltySeq) again.push(job)
      else if (reason === 'watchdog' && policy) {
        job.resolve(failure('BP_ERR_POLICY_TIMEOUT', { policy: policy.name, timeoutMs: this.options.limits.timeoutMs, location: policy.entry }, policy.name))
      } else job.resolve(failure('BP_ERR_POLICY_WORKER', { details: reason === 'watchdog' ? 'the policy worker stopped answering' : 'the policy worker stopped' }, policy?.name))
    }
    // The verify it was working on fails for the policy it was loading; the others go to the new worker.
    const verifies = new Map(slot.verifies)
    if (verifying && policy) {
      verifies.delete(slot.progress[PROGRESS.verify]!)
      const timeoutParams = { policy: policy.name, timeoutMs: this.options.limits.timeoutMs, location: policy.entry }
      verifying.done([
        problemOf(policy, reason === 'watchdog' ? 'BP_ERR_POLICY_TIMEOUT' : 'BP_ERR_POLICY_WORKER', reason === 'watchdog' ? timeoutParams : { details: 'the policy worker stopped while loading it' }),
      ])
    }
    void slot.worker.terminate()
    this.options.onReplace?.({ reason, policy: policy?.name, exitCode })
    if (reason === 'watchdog' && policy && !verifying) this.charge(policy)
    this.queue.unshift(...again)
    if (this.closed) {
      for (const v of verifies.values()) v.done(v.policies.map((p) => problemOf(p, 'BP_ERR_POLICY_WORKER', { details: 'the server is closing' })))
      return
    }
    // A worker that keeps dying is restarted at most every second.
    const now = Date.now()
    const deaths = [...slot.deaths.filter((t) => now - t < 10_000), now]
    const delay = deaths.length > 3 ? 1000 : 0
    const i = this.slots.indexOf(slot)
    const start = (): void => {
      if (this.closed) {
        for (const v of verifies.values()) v.done(v.policies.map((p) => problemOf(p, 'BP_ERR_POLICY_WORKER', { details: 'the server is closing' })))
        return
      }
      this.slots[i] = this.spawn(deaths, verifies)
    }
    if (delay) setTimeout(start, delay).unref()
    else start()
  }

  /** One watchdog kill charged to this policy revision; the QUARANTINE_KILLS-th quarantines it. */
  private charge(policy: PolicyCode): void {
    if (this.quarantine.has(policy.hash)) return
    const kills = (this.kills.get(policy.hash) ?? 0) + 1
    this.kills.set(policy.hash, kills)
    if (kills < QUARANTINE_KILLS) return
    this.quarantine.set(policy.hash, policy.name)
    this.options.onQuarantine?.({ policy: policy.name, hash: policy.hash, kills })
    this.broadcastInstall()
  }
}

function problemOf(p: PolicyCode, code: ErrorCode, params: ErrorParams): PolicyProblem {
  return { policy: p.name, code, message: new BootpolicyError(code, params).message }
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
