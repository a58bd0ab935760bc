/**
 * Runtime failures that leave no lasting state to look at (a policy worker replaced, a template
 * that failed to render, a plugin hook that failed) but that /healthz must show: each is kept
 * for a window after it last happened, by a key, with a count. Bounded: at most MAX_KEYS keys,
 * the oldest dropped first, so a flood of distinct failures cannot grow memory.
 */
export interface ProblemFacts {
  readonly kind: string
  readonly code: string
  readonly message: string
  readonly [field: string]: unknown
}

export interface RecentProblem extends ProblemFacts {
  /** How often it happened while it was being kept. */
  readonly count: number
  /** ISO time of the last occurrence. */
  readonly last: string
}

const MAX_KEYS = 100

export class RecentProblems {
  private readonly entries = new Map<string, { problem: ProblemFacts; count: number; at: number }>()

  constructor(
    readonly windowMs = 5 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  record(key: string, problem: ProblemFacts): void {
    const old = this.entries.get(key)
    this.entries.delete(key) // re-inserted last: the map stays in order of last occurrence
    this.entries.set(key, { problem, count: (old?.count ?? 0) + 1, at: this.now() })
    if (this.entries.size > MAX_KEYS) this.entries.delete(this.entries.keys().next().value!)
  }

  list(): RecentProblem[] {
    const cutoff = this.now() - this.windowMs
    for (const [key, e] of this.entries) if (e.at < cutoff) this.entries.delete(key)
    return [...this.entries.values()].map((e): RecentProblem => ({ ...e.problem, count: e.count, last: new Date(e.at).toISOString() }))
  }
}
