/**
 * A small pool of worker threads that run TFTP transfers (`tftp.workers`), so that 200 lock-step
 * clients use every core and do not queue behind HTTP and DHCP on the main event loop. The main
 * thread still parses, authorizes and resolves each request (path rules, plugins' virtual files,
 * logs, timeline, metrics); a worker gets only the resolved TransferSpec and reports the end.
 *
 * A transfer goes to the worker with the fewest in flight. If a worker dies (an uncaught
 * exception, an out-of-memory abort), its transfers end as 'error' — their sockets died with the
 * thread, so those clients time out — and a new worker takes its place; the rest go on. A worker
 * that dies before it ever started is replaced after a growing delay (up to 5 s), so a worker that
 * cannot load does not spin.
 *
 * The service waits for every worker to have loaded its code (`ready`) before it reports itself
 * started: `serve` drops privileges right after, and a worker that loads later, as the dropped
 * user, cannot read an installation only root may enter. A transfer finds no worker ready (all
 * being replaced, or none could load) → the service runs it on the main thread instead.
 */
import { Worker } from 'node:worker_threads'
import type { RunningTransfer, TransferEvents, TransferSpec } from './run-transfer.js'
import type { FromWorker, ToWorker } from './transfer-messages.js'

const here = import.meta.url
const fromSource = here.endsWith('.ts')
const MAX_RESPAWN_DELAY_MS = 5000

interface Slot {
  worker: Worker
  ready: boolean
  transfers: Map<number, TransferEvents>
}

export interface TransferPoolEvents {
  /** A worker exited unexpectedly; `lost` transfers ended with it. Must not throw. */
  onWorkerExit(info: { code: number; lost: number }): void
}

export class TransferPool {
  private readonly slots: (Slot | undefined)[]
  private nextId = 1
  private closed = false
  private failedStarts = 0
  private readonly respawnTimers = new Set<NodeJS.Timeout>()

  constructor(
    readonly size: number,
    private readonly events: TransferPoolEvents,
  ) {
    this.slots = Array.from({ length: size }, () => this.spawn())
  }

  /** Workers alive now (a dead one is counted again once its replacement is spawned). */
  alive(): number {
    return this.slots.filter(Boolean).length
  }

  /** Workers that have loaded their code and take transfers. */
  readyCount(): number {
    return this.slots.filter((s) => s?.ready).length
  }

  /** Resolves true once every worker is ready, false after `timeoutMs` (or once one died unready). */
  ready(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const t0 = Date.now()
      const poll = (): void => {
        if (this.readyCount() === this.size) return resolve(true)
        if (this.closed || this.failedStarts > 0 || Date.now() - t0 > timeoutMs) return resolve(false)
        setTimeout(poll, 10).unref()
      }
      poll()
    })
  }

  start(spec: TransferSpec, events: TransferEvents): RunningTransfer {
    let slot: Slot | undefined
    for (const s of this.slots) if (s?.ready && (!slot || s.transfers.size < slot.transfers.size)) slot = s
    if (!slot || this.closed) {
      // Every worker is being replaced: fail this one transfer rather than queue it unboundedly.
      queueMicrotask(() => events.onEnd({ outcome: 'error', error: 'no transfer worker available' }))
      return { abort: () => undefined, drop: () => undefined }
    }
    const id = this.nextId++
    const owner = slot
    owner.transfers.set(id, events)
    owner.worker.postMessage({ t: 'start', id, spec } satisfies ToWorker)
    return {
      abort: (message) => {
        if (owner.transfers.has(id)) owner.worker.postMessage({ t: 'abort', id, message } satisfies ToWorker)
      },
      drop: () => {
        if (owner.transfers.has(id)) owner.worker.postMessage({ t: 'drop', id } satisfies ToWorker)
      },
    }
  }

  /** Tests only: make one worker throw an uncaught exception, as a bug in it would. */
  crashOneForTest(): void {
    const slot = this.slots.find((s) => s && s.transfers.size > 0) ?? this.slots.find(Boolean)
    slot?.worker.postMessage({ t: 'test-crash' } satisfies ToWorker)
  }

  /** Stops the workers; call once no transfer is in flight (the service aborts them first). */
  async close(): Promise<void> {
    this.closed = true
    for (const timer of this.respawnTimers) clearTimeout(timer)
    await Promise.all(this.slots.map((s) => s?.worker.terminate()))
  }

  private spawn(): Slot {
    // Under coverage, Node's exit-time coverage writer can abort a terminated worker.
    const env = { ...process.env }
    delete env.NODE_V8_COVERAGE
    const entry = new URL(`./transfer-worker${fromSource ? '.ts' : '.js'}`, here)
    // Under tsx (tests, benchmarks) the worker must register the TypeScript loader itself.
    const worker = fromSource ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry.href)}) })`, { eval: true, env }) : new Worker(entry, { env })
    // The listening socket keeps the process alive, not the workers.
    worker.unref()
    const slot: Slot = { worker, ready: false, transfers: new Map() }
    worker.on('message', (msg: FromWorker) => this.onMessage(slot, msg))
    worker.on('error', () => undefined) // 'exit' follows and is reported there
    worker.on('exit', (code) => this.onExit(slot, code))
    return slot
  }

  private onMessage(slot: Slot, msg: FromWorker): void {
    if (msg.t === 'ready') {
      slot.ready = true
      this.failedStarts = 0
      return
    }
    const events = slot.transfers.get(msg.id)
    if (!events) return
    if (msg.t === 'first-ack') return events.onFirstAck()
    slot.transfers.delete(msg.id)
    const { t: _t, id: _id, ...end } = msg
    events.onEnd(end)
  }

  private onExit(slot: Slot, code: number): void {
    const index = this.slots.indexOf(slot)
    if (index === -1) return
    this.slots[index] = undefined
    const lost = [...slot.transfers.values()]
    slot.transfers.clear()
    for (const events of lost) events.onEnd({ outcome: 'error', error: `transfer worker exited (code ${code})` })
    if (this.closed) return
    this.events.onWorkerExit({ code, lost: lost.length })
    const delay = slot.ready ? 0 : Math.min(MAX_RESPAWN_DELAY_MS, 100 * 2 ** this.failedStarts++)
    const timer = setTimeout(() => {
      this.respawnTimers.delete(timer)
      if (!this.closed) this.slots[index] = this.spawn()
    }, delay)
    timer.unref()
    this.respawnTimers.add(timer)
  }
}
