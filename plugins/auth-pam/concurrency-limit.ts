/**
 * At most `max` calls at once, at most `queueLimit` waiting, and none waits longer than
 * `queueTimeoutMs`. PAM runs on libuv's worker pool (4 threads by default) and a refused
 * password sleeps there ~2 s (pam_unix's fail delay): without this bound, four wrong passwords
 * stall every fs, dns.lookup and crypto call of the process for two seconds.
 */
export class BusyError extends Error {
  override readonly name = 'BusyError'
}

export class ConcurrencyLimit {
  private active = 0
  private readonly waiting: Array<{ start: () => void; timer: NodeJS.Timeout }> = []

  constructor(
    readonly max: number,
    readonly queueLimit: number,
    readonly queueTimeoutMs: number,
  ) {}

  get running(): number {
    return this.active
  }

  get queued(): number {
    return this.waiting.length
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) {
      if (this.waiting.length >= this.queueLimit) throw new BusyError(`${this.active} calls running and ${this.waiting.length} waiting`)
      await new Promise<void>((resolve, reject) => {
        const entry = {
          start: () => {
            clearTimeout(entry.timer)
            resolve()
          },
          timer: setTimeout(() => {
            this.waiting.splice(this.waiting.indexOf(entry), 1)
            reject(new BusyError(`waited ${this.queueTimeoutMs} ms for a free slot`))
          }, this.queueTimeoutMs),
        }
        this.waiting.push(entry)
      })
      // The slot was handed over by the finishing call: `active` already counts this one.
    } else {
      this.active++
    }
    try {
      return await fn()
    } finally {
      const next = this.waiting.shift()
      if (next) next.start()
      else this.active--
    }
  }
}
