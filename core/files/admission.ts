/**
 * Admission control for large downloads: at most `maxConcurrent` large bodies in flight at once.
 *
 * Why: when a few hundred machines boot together, the link or the disk is the bottleneck. Sharing it
 * among all of them makes every download slow, and clients whose download stalls past their own
 * timeout lose it and start over (or fail the boot). Letting a bounded number through at full speed,
 * and telling the rest to come back a little later, finishes more boots sooner and loses none.
 * Clients over the limit get HTTP 503 with `Retry-After: retrySeconds + a random 0..jitterSeconds`:
 * iPXE's HTTP client waits that long and retries the same request by itself (see
 * docs/reference/http-api.md#admission-control); the jitter spreads the retries out so they do not
 * come back as one wave.
 * A slot is held from the moment a body is admitted until its response closes (sent, failed, or
 * the client went away), and released exactly once. This module only counts; the route decides
 * what is "large" (files.admission.minBytes).
 */

export interface AdmissionLimits {
  /** Large bodies in flight at most; 0: no limit. */
  readonly maxConcurrent: number
  /** Base wait told to a refused client, in seconds. */
  readonly retrySeconds: number
  /** Up to this many seconds more, chosen at random per refusal. */
  readonly jitterSeconds: number
}

export interface AdmissionStats {
  active: number
  admitted: number
  refused: number
}

export interface Admission {
  /** A release function (idempotent) when a slot was free, else `undefined`. */
  tryAcquire(): (() => void) | undefined
  /** Seconds for Retry-After: an integer, since iPXE reads only a plain number of seconds. */
  retryAfter(): number
  stats(): AdmissionStats
}

export function createAdmission(limits: AdmissionLimits, random: () => number = Math.random): Admission {
  let active = 0
  let admitted = 0
  let refused = 0
  return {
    tryAcquire() {
      if (limits.maxConcurrent > 0 && active >= limits.maxConcurrent) {
        refused++
        return undefined
      }
      active++
      admitted++
      let held = true
      return () => {
        if (!held) return
        held = false
        active--
      }
    },
    retryAfter: () => retrySeconds(limits, random),
    stats: () => ({ active, admitted, refused }),
  }
}

/**
 * `retrySeconds` plus a random 0..jitterSeconds, whole seconds (iPXE's Retry-After and `sleep` read
 * only an integer). Shared with the /boot state failsafe (core/engine/state-failsafe.ts), whose
 * clients come back after it in the same spread-out way.
 */
export function retrySeconds(limits: Pick<AdmissionLimits, 'retrySeconds' | 'jitterSeconds'>, random: () => number = Math.random): number {
  return limits.retrySeconds + Math.floor(random() * (limits.jitterSeconds + 1))
}
