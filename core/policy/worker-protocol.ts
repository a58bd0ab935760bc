/**
 * Messages between the main thread and the policy workers, and the one-string encoding of a
 * chain's outcome. The worker builds these strings from its own values: nothing a policy created
 * crosses the thread boundary, only strings and numbers.
 */
import type { ErrorParams } from '../errors/bp-error.js'
import type { ErrorCode } from '../errors/catalog.js'
import type { CompiledPolicy } from './compile-policy.js'
import type { SandboxLimits } from './sandbox.js'

/** The part of a compiled policy a worker needs (all strings). */
export type PolicyCode = Pick<CompiledPolicy, 'name' | 'file' | 'hash' | 'code' | 'map' | 'entry'>

export interface WorkerSettings {
  readonly limits: SandboxLimits
  readonly onError: 'failsafe' | 'next'
}

/** Main → worker. `run` carries a batch: request i is (seqs[i], ctxs[i] as JSON, froms[i]); `traced` lists the seqs whose print() lines are wanted (explain). */
export type ToWorker =
  /** `quarantined`: hashes of policies that fail every request without running (worker-pool.ts). */
  | { readonly t: 'install'; readonly policies: readonly PolicyCode[]; readonly quarantined: readonly string[] }
  | { readonly t: 'verify'; readonly id: number; readonly policies: readonly PolicyCode[] }
  | { readonly t: 'run'; readonly seqs: readonly number[]; readonly ctxs: readonly string[]; readonly froms: readonly number[]; readonly traced?: readonly number[] }
  /** Test hook: a request whose context contains `marker` hangs the worker thread itself (no isolate time limit stops that). */
  | { readonly t: 'test-hang'; readonly marker: string }
  /** Test hook: loading (verify) a policy whose code contains `marker`, or running it on a context that contains it, hangs the worker thread. */
  | { readonly t: 'test-hang-policy'; readonly marker: string }

/** Worker → main. `verified.problems` is JSON of `{ policy, code, params }[]`. */
export type FromWorker =
  | { readonly t: 'ready' }
  | { readonly t: 'verified'; readonly id: number; readonly problems: string }
  | { readonly t: 'done'; readonly seqs: readonly number[]; readonly outs: readonly string[] }

/**
 * Shared progress cells, written by the worker before each unit of untrusted work (building or
 * calling one policy) and read by the main thread's watchdog. `verify` is the id of the verify
 * request being worked on (0: none), so that a hang while verifying is charged to that request.
 */
export const PROGRESS = { seq: 0, policy: 1, startedAt: 2, verify: 3, length: 4 } as const

export interface ChainStep {
  readonly p: string
  readonly o: 'passed' | 'decided' | 'error'
  readonly us: number
  /** The first 12 hex digits of the hash of the policy version that ran (its revision). */
  readonly h?: string
  /** print() lines, on a traced run only. */
  readonly pr?: readonly string[]
  readonly code?: ErrorCode
  readonly params?: ErrorParams
}

/**
 * The chain's outcome: `decided` is the index of the deciding policy, or -1. A decision that
 * crosses has been validated in the worker (split-validation.ts) except its plugin-kind parts,
 * which are at `plugins` (paths), for the main thread to check.
 */
export interface ChainMeta {
  readonly steps: readonly ChainStep[]
  readonly decided: number
  readonly cpuNs: number
  readonly plugins?: readonly string[]
}

/** `meta JSON` + `\n` + decision JSON (JSON text never holds a raw newline). */
export function encodeChain(meta: ChainMeta, decisionJson?: string): string {
  return decisionJson === undefined ? JSON.stringify(meta) : `${JSON.stringify(meta)}\n${decisionJson}`
}

export function decodeChain(out: string): { meta: ChainMeta; decisionJson?: string } {
  const nl = out.indexOf('\n')
  if (nl < 0) return { meta: JSON.parse(out) as ChainMeta }
  return { meta: JSON.parse(out.slice(0, nl)) as ChainMeta, decisionJson: out.slice(nl + 1) }
}
