/** One record per /boot request (OPA's decision log): what was asked, who decided, what it cost. */
import type { BootContext } from '../context/types.js'

export interface PolicyStep {
  readonly policy: string
  readonly outcome: 'decided' | 'passed' | 'error'
  readonly code?: string
  readonly message?: string
  readonly us: number
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
  readonly cached: boolean
  readonly error?: { code: string; message: string }
  readonly cpuUs: number
  readonly wallUs: number
}
