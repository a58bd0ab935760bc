/**
 * Ordered-subsequence matching over a machine's timeline: the e2e tests state the steps a boot must
 * show (other events may come between them, e.g. a second DHCP exchange of the installer), and a
 * failure names the first step not found after the previous one, with what the timeline held.
 */

export interface TimelineEventLike {
  readonly seq: number
  readonly source: string
  readonly type: string
  readonly fields: Readonly<Record<string, string | number | boolean>>
}

/** A step: source and type exactly; each field equal, or matching when a RegExp. */
export interface EventStep {
  readonly source: string
  readonly type: string
  readonly fields?: Readonly<Record<string, string | number | boolean | RegExp>>
}

export function stepMatches(e: TimelineEventLike, step: EventStep): boolean {
  if (e.source !== step.source || e.type !== step.type) return false
  for (const [k, want] of Object.entries(step.fields ?? {})) {
    const got = e.fields[k]
    if (want instanceof RegExp ? got === undefined || !want.test(String(got)) : got !== want) return false
  }
  return true
}

/** undefined when every step is found in order; else a line naming the missing step and the events. */
export function missingStep(events: readonly TimelineEventLike[], steps: readonly EventStep[]): string | undefined {
  let i = 0
  for (const [n, step] of steps.entries()) {
    while (i < events.length && !stepMatches(events[i]!, step)) i++
    if (i === events.length) {
      const seen = events.map((e) => `${e.source}/${e.type}${e.fields.file ? `(${e.fields.file})` : ''}`).join(' ')
      return `step ${n} ${step.source}/${step.type} ${JSON.stringify(step.fields ?? {}, (_k, v) => (v instanceof RegExp ? String(v) : v))} not found in order; timeline: ${seen}`
    }
    i++
  }
  return undefined
}
