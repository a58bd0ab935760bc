/** `bootpolicy_machines{state=…}`: known machines by state, computed at scrape time. */
import type { MachineState } from './timeline-types.js'
import type { Timeline } from './timeline.js'

const STATES: readonly MachineState[] = ['seen', 'booting', 'installing', 'installed', 'failed', 'stuck']

export function machinesGauge(timeline: Timeline): string {
  const counts = new Map<MachineState, number>(STATES.map((s) => [s, 0]))
  for (const m of timeline.machines()) counts.set(m.state, (counts.get(m.state) ?? 0) + 1)
  const lines = ['# HELP bootpolicy_machines Known machines (the timeline) by state', '# TYPE bootpolicy_machines gauge']
  for (const [state, n] of counts) lines.push(`bootpolicy_machines{state="${state}"} ${n}`)
  return `${lines.join('\n')}\n`
}
