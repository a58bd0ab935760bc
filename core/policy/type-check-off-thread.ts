/**
 * Run the type check (type-check.ts) in a worker thread, so that hot reload and start-up can
 * check as thoroughly as `bootpolicy check` without stalling the main thread that answers /boot.
 * One thread per process, started on first use and unref'd (it never keeps the process alive);
 * a thread that dies fails the checks it held and the next check starts a new one.
 */
import { Worker } from 'node:worker_threads'
import type { ImportableModules } from './compile-policy.js'
import type { TypeDiagnostic } from './type-check.js'
import type { TypeCheckRequest } from './type-check-thread.js'

const here = import.meta.url
const fromSource = here.endsWith('.ts')

type Reply = { id: number; ok: true; diagnostics: TypeDiagnostic[] } | { id: number; ok: false; message: string }

let worker: Worker | undefined
let nextId = 0
const pending = new Map<number, { resolve: (d: TypeDiagnostic[]) => void; reject: (err: Error) => void }>()

function thread(): Worker {
  if (worker) return worker
  const entry = new URL(`./type-check-thread${fromSource ? '.ts' : '.js'}`, here)
  // Under tsx (tests) the worker must register the TypeScript loader itself, as worker-pool.ts does.
  const w = fromSource ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry.href)}) })`, { eval: true }) : new Worker(entry)
  w.unref()
  w.on('message', (msg: Reply) => {
    const p = pending.get(msg.id)
    pending.delete(msg.id)
    if (pending.size === 0) w.unref()
    if (!p) return
    if (msg.ok) p.resolve(msg.diagnostics)
    else p.reject(new Error(`type check failed: ${msg.message}`))
  })
  const fail = (why: string): void => {
    if (worker === w) worker = undefined
    for (const p of pending.values()) p.reject(new Error(`type check failed: ${why}`))
    pending.clear()
  }
  w.on('error', (err) => fail(err.message))
  w.on('exit', (code) => fail(`its thread exited with code ${code}`))
  worker = w
  return w
}

export function typeCheckOffThread(dir: string, importables: ImportableModules): Promise<TypeDiagnostic[]> {
  return new Promise((resolve, reject) => {
    const w = thread()
    const id = ++nextId
    pending.set(id, { resolve, reject })
    // Referenced while a check is running: a one-shot caller waits for its answer.
    w.ref()
    w.postMessage({ id, dir, importables: [...importables] } satisfies TypeCheckRequest)
  })
}
