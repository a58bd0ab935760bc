/** One record per /boot request (OPA's decision log): what was asked, who decided, what it cost. */
import type { BootContext } from '../context/types.js'

export interface PolicyStep {
  readonly policy: string
  readonly outcome: 'decided' | 'passed' | 'error'
  readonly code?: string
  readonly message?: string
  readonly us: number
  /**
   * The revision of the version that ran: the first 12 hex digits of its compiled bundle's sha256
   * (the policy and its imports). Every policy up to the decider is a step, so with the context
   * these say exactly which code produced an answer, after any later edit.
   */
  readonly rev?: string
  /** print() lines, in explain only (a /boot request does not collect them). */
  readonly prints?: readonly string[]
}

export interface DecisionRecord {
  readonly reqId: string
  /** The context the policies saw (it never holds credentials). */
  readonly context: BootContext
  readonly policies: readonly PolicyStep[]
  readonly plugins: readonly { plugin: string; hook: string; ms: number; error?: string }[]
  /** `policy:<file>`, `plugin:<name>`, `default`, or `failsafe`. */
  readonly decidedBy: string
  readonly kind: string
  /** The decision served, in one short line without credentials (decision-summary.ts). */
  readonly summary: string
  readonly cached: boolean
  readonly error?: { code: string; message: string }
  readonly cpuUs: number
  readonly wallUs: number
}
