/** A machine's state from its summary: what `bootpolicy machines` and the metrics show. */
import type { MachineState, MachineSummary } from './timeline-types.js'

/** Booting: seen within this long (a boot takes seconds to minutes). */
const RECENT_MS = 10 * 60_000

export function machineState(s: MachineSummary, now: number, stuckAfterMs: number): MachineState {
  if (s.installStartedAt !== undefined) return s.stuck || now - s.installStartedAt >= stuckAfterMs ? 'stuck' : 'installing'
  if (s.outcome === 'built') return 'installed'
  if (s.outcome === 'failed') return 'failed'
  return now - s.lastSeen < RECENT_MS ? 'booting' : 'seen'
}
