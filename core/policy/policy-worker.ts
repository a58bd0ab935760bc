/**
 * Worker-thread entry: holds one isolate per policy of the current revision and runs the whole
 * chain for each request it is sent (one thread hop per request). Policies run here, never on the
 * main thread, so that a policy that hangs or crashes its isolate or this thread costs only this
 * worker, which the pool (worker-pool.ts) terminates and replaces.
 */
// First: under coverage it must start before the modules below are evaluated (worker-coverage.ts).
import { coverage } from './worker-coverage.js'
import { parentPort, workerData } from 'node:worker_threads'
import { LRUCache } from 'lru-cache'
import { validateInWorker, type WorkerVerdict } from '../decision/split-validation.js'
import { PolicySandbox } from './sandbox.js'
import { encodeChain, PROGRESS, type ChainStep, type FromWorker, type PolicyCode, type ToWorker, type WorkerSettings } from './worker-protocol.js'

const settings = (workerData as { settings: WorkerSettings }).settings
const progress = new Float64Array((workerData as { progress: SharedArrayBuffer }).progress)
const port = parentPort!

let chain: PolicySandbox[] = []
/** Policies the pool quarantined (by hash): never built or run here, they fail every request. */
let quarantined = new Set<string>()
let hangMarker: string | undefined
/** Verdicts by decision text (many clients get the same menu); texts past 16 KB are not kept. */
const verdicts = new LRUCache<string, WorkerVerdict>({ max: 256 })
const MEMO_MAX_CHARS = 16 * 1024

function validate(json: string): WorkerVerdict {
  const memo = json.length <= MEMO_MAX_CHARS ? verdicts.get(json) : undefined
  if (memo) return memo
  const verdict = validateInWorker(json)
  if (json.length <= MEMO_MAX_CHARS) verdicts.set(json, verdict)
  return verdict
}

let hangPolicyMarker: string | undefined

/** Test hook (ToWorker 'test-hang-policy'): a hang the isolate's time limit cannot stop. */
function hangIfMarked(code: string, ctxJson?: string): void {
  if (hangPolicyMarker === undefined || !code.includes(hangPolicyMarker)) return
  if (ctxJson !== undefined && !ctxJson.includes(hangPolicyMarker)) return
  for (;;) {
    // spins until the pool terminates this worker
  }
}

function mark(seq: number, policy: number, verifyId = 0): void {
  progress[PROGRESS.verify] = verifyId
  progress[PROGRESS.seq] = seq
  progress[PROGRESS.policy] = policy
  progress[PROGRESS.startedAt] = Date.now()
}

function idle(): void {
  progress[PROGRESS.startedAt] = 0
}

function install(policies: readonly PolicyCode[], skip: readonly string[]): void {
  quarantined = new Set(skip)
  const byHash = new Map(chain.map((s) => [s.policy.hash, s]))
  const next: PolicySandbox[] = []
  policies.forEach((p, i) => {
    let sandbox = byHash.get(p.hash)
    if (sandbox) byHash.delete(p.hash)
    else {
      sandbox = new PolicySandbox(p, settings.limits)
      if (quarantined.has(p.hash)) {
        next.push(sandbox) // not built: its top-level code may be what hangs
        return
      }
      mark(-1, i)
      try {
        sandbox.warm()
      } catch {
        // Verified before install; a failure now shows again on its first call.
      }
    }
    next.push(sandbox)
  })
  for (const s of byHash.values()) s.dispose()
  chain = next
  idle()
}

function verify(id: number, policies: readonly PolicyCode[]): string {
  const problems: object[] = []
  policies.forEach((p, i) => {
    const sandbox = new PolicySandbox(p, settings.limits)
    mark(-1, i, id)
    hangIfMarked(p.code)
    try {
      sandbox.warm()
    } catch (err) {
      const e = err as { code: string; params: object }
      problems.push({ policy: p.name, code: e.code, params: e.params })
    } finally {
      sandbox.dispose()
    }
  })
  idle()
  return JSON.stringify(problems)
}

function runChain(seq: number, ctxJson: string, from: number, traced = false): string {
  const steps: ChainStep[] = []
  let cpuNs = 0n
  for (let i = from; i < chain.length; i++) {
    const sandbox = chain[i]!
    const p = sandbox.policy.name
    const h = sandbox.policy.hash.slice(0, 12)
    if (quarantined.has(sandbox.policy.hash)) {
      steps.push({ p, o: 'error', us: 0, h, code: 'BP_ERR_POLICY_QUARANTINED', params: { policy: p } })
      if (settings.onError === 'failsafe') return encodeChain({ steps, decided: -1, cpuNs: Number(cpuNs) })
      continue
    }
    mark(seq, i)
    if (hangMarker !== undefined && ctxJson.includes(hangMarker))
      for (;;) {
        // Test hook (see ToWorker 'test-hang'): a hang the isolate's time limit cannot stop.
      }
    hangIfMarked(sandbox.policy.code, ctxJson)
    const cpu0 = sandbox.cpuTimeNs()
    const t0 = performance.now()
    // print() is a no-op unless traced (explain): /boot pays nothing for a policy's debug lines.
    let outcome
    let pr: { pr?: readonly string[] } = {}
    if (traced) {
      const run = sandbox.runTraced(ctxJson)
      outcome = run.outcome
      if (run.prints.length) pr = { pr: run.prints }
    } else outcome = sandbox.runJson(ctxJson)
    const us = Math.round((performance.now() - t0) * 1000)
    const spent = sandbox.cpuTimeNs() - cpu0
    if (spent > 0n) cpuNs += spent // an isolate rebuilt after a memory bomb restarts its clock
    if (outcome.kind === 'error') {
      steps.push({ p, o: 'error', us, h, ...pr, code: outcome.code, params: outcome.params })
      // Missing shared state stops the chain even under onError 'next': a later policy's answer
      // (local disk, say) may be the wrong one while an intent might be armed.
      if (settings.onError === 'failsafe' || outcome.code === 'BP_ERR_STATE_UNAVAILABLE') return encodeChain({ steps, decided: -1, cpuNs: Number(cpuNs) })
      continue
    }
    if (outcome.kind === 'pass') {
      steps.push({ p, o: 'passed', us, h, ...pr })
      continue
    }
    // Validated here, off the main thread; only plugin kinds are left to it (split-validation.ts).
    const verdict = validate(outcome.json)
    if (!verdict.ok) {
      steps.push({ p, o: 'error', us, h, ...pr, code: 'BP_ERR_POLICY_BAD_DECISION', params: { policy: p, details: verdict.problems.slice(0, 5).join('; ') } })
      if (settings.onError === 'failsafe') return encodeChain({ steps, decided: -1, cpuNs: Number(cpuNs) })
      continue
    }
    steps.push({ p, o: 'decided', us, h, ...pr })
    const plugins = verdict.pluginPaths.length ? { plugins: verdict.pluginPaths } : {}
    return encodeChain({ steps, decided: i, cpuNs: Number(cpuNs), ...plugins }, outcome.json)
  }
  return encodeChain({ steps, decided: -1, cpuNs: Number(cpuNs) })
}

port.on('message', (msg: ToWorker) => {
  handle(msg)
  if (msg.t === 'run') coverage?.soon()
  else coverage?.flush()
})

function handle(msg: ToWorker): void {
  switch (msg.t) {
    case 'install':
      install(msg.policies, msg.quarantined)
      return
    case 'verify':
      port.postMessage({ t: 'verified', id: msg.id, problems: verify(msg.id, msg.policies) } satisfies FromWorker)
      return
    case 'run': {
      const outs: string[] = []
      const traced = new Set(msg.traced ?? [])
      for (let i = 0; i < msg.seqs.length; i++) outs.push(runChain(msg.seqs[i]!, msg.ctxs[i]!, msg.froms[i]!, traced.has(msg.seqs[i]!)))
      idle()
      port.postMessage({ t: 'done', seqs: msg.seqs, outs } satisfies FromWorker)
      return
    }
    case 'test-hang':
      hangMarker = msg.marker
      return
    case 'test-hang-policy':
      hangPolicyMarker = msg.marker
  }
}
port.postMessage({ t: 'ready' } satisfies FromWorker)
