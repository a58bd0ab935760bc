/**
 * A few Prometheus metrics, in text format 0.0.4. Small on purpose: counters with labels and one
 * latency histogram, enough for requests, decisions by kind and policy, policy errors and latency.
 * Label values come from our own vocabulary (kinds, policy file names, codes), never from clients.
 */
export class Counter {
  private readonly values = new Map<string, number>()
  /** Label sets seen before, by their joined values: escaping runs once per label set, not per request. */
  private readonly keys = new Map<string, string>()
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Record<string, string> = {}, by = 1): void {
    const raw = Object.values(labels).join('\u0000')
    let key = this.keys.get(raw)
    if (key === undefined) {
      key = labelText(labels)
      if (this.keys.size < 10_000) this.keys.set(raw, key)
    }
    this.values.set(key, (this.values.get(key) ?? 0) + by)
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`]
    if (this.values.size === 0) lines.push(`${this.name} 0`)
    for (const [labels, v] of this.values) lines.push(`${this.name}${labels} ${v}`)
    return lines.join('\n')
  }
}

export class Histogram {
  private readonly counts: number[]
  private sum = 0
  private count = 0
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {
    this.counts = buckets.map(() => 0)
  }

  observe(value: number): void {
    this.sum += value
    this.count++
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) this.counts[i]!++
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`]
    this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket{le="${b}"} ${this.counts[i]}`))
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`)
    return lines.join('\n')
  }
}

function labelText(labels: Record<string, string>): string {
  const entries = Object.entries(labels)
  if (entries.length === 0) return ''
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`).join(',')}}`
}

export class Metrics {
  readonly requests = new Counter('bootpolicy_http_requests_total', 'HTTP requests by route and status code')
  readonly decisions = new Counter('bootpolicy_decisions_total', 'Boot decisions by kind and by who decided')
  readonly policyErrors = new Counter('bootpolicy_policy_errors_total', 'Policy failures by policy and error code')
  readonly cacheHits = new Counter('bootpolicy_decision_cache_hits_total', 'Decisions served from the memo cache')
  /** Intent changes: armed, replaced, cleared, token-issued, consumed, failed, expired (core/lifecycle). */
  readonly intents = new Counter('bootpolicy_intents_total', 'Intent changes by event')
  readonly callbacks = new Counter('bootpolicy_installer_callbacks_total', 'Installer callbacks by outcome and result')
  readonly stateUnavailable = new Counter(
    'bootpolicy_state_unavailable_total',
    'State database outages seen (what="outage"), and logins (what="login") and boots (what="boot") refused because it was unreachable',
  )
  readonly machinesStuck = new Counter('bootpolicy_machines_stuck_total', 'Machines found stuck: an installer boot with no callback in time (BPWRN012)')
  readonly latency = new Histogram('bootpolicy_boot_duration_seconds', 'Time to answer /boot', [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1])

  /** Services that render their own lines (DHCP), appended as they are. */
  readonly sources: Array<() => string> = []

  render(): string {
    return (
      [this.requests, this.decisions, this.policyErrors, this.cacheHits, this.intents, this.callbacks, this.stateUnavailable, this.machinesStuck, this.latency].map((m) => m.render()).join('\n') +
      '\n' +
      this.sources.map((s) => s()).join('')
    )
  }
}
