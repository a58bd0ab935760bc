/**
 * Worker-thread entry of typeCheckOffThread: the TypeScript compiler takes 0.2 s to seconds of
 * CPU per policy directory, which on the main thread would stall every /boot request meanwhile.
 * The thread lives as long as the server: TypeScript is loaded once and the files outside the
 * policies directory are parsed once (SourceFileCache). One request at a time, in order.
 */
import { parentPort } from 'node:worker_threads'
import { typeCheckPolicies, type SourceFileCache } from './type-check.js'

export interface TypeCheckRequest {
  readonly id: number
  readonly dir: string
  readonly importables: readonly [string, string][]
}

const cache: SourceFileCache = new Map()

parentPort!.on('message', (req: TypeCheckRequest) => {
  try {
    parentPort!.postMessage({ id: req.id, ok: true, diagnostics: typeCheckPolicies(req.dir, new Map(req.importables), cache) })
  } catch (err) {
    parentPort!.postMessage({ id: req.id, ok: false, message: err instanceof Error ? err.message : String(err) })
  }
})
