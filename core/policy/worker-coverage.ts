/**
 * Coverage of a policy worker thread, written by the thread itself through the inspector instead
 * of by Node at thread exit. Node's own writer (NODE_V8_COVERAGE) runs after isolated-vm's cleanup
 * hook; its allocation can start a GC that runs isolated-vm's weak callbacks, which abort the whole
 * process (`IsolateEnvironment::GetCurrent()` assertion, SIGABRT). collect-handles.ts removes the
 * garbage a worker drops between messages, but a worker the watchdog terminates in the middle of an
 * isolated-vm call leaves some that no JS can collect. So the pool starts workers without
 * NODE_V8_COVERAGE and passes the directory here: the worker takes its coverage at quiet moments
 * (after install and verify, and at most every FLUSH_MS while it serves) into files of Node's own
 * format, which c8 merges with the rest. A terminated worker loses only what ran since its last write.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector'
import { findSourceMap } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { threadId, workerData } from 'node:worker_threads'
import { collectDroppedHandles } from './collect-handles.js'

const FLUSH_MS = 500
const root = pathToFileURL(fileURLToPath(new URL('../../', import.meta.url))).href
const ours = (url: string): boolean => url.startsWith(root) && !url.includes('/node_modules/')

interface Range {
  readonly startOffset: number
  readonly endOffset: number
  readonly count: number
}
interface ScriptCoverage {
  readonly url: string
  functions: { functionName: string; ranges: Range[]; isBlockCoverage: boolean }[]
}

/**
 * Each take resets V8's counters and returns only the functions that ran since: a later file
 * lacks the script's own range, and c8 would count every line outside the functions listed as
 * covered. The script's range is added back with count 0 (c8 sums the files).
 */
function withScriptRange(s: ScriptCoverage, ends: Map<string, number>): ScriptCoverage {
  const first = s.functions[0]?.ranges[0]
  if (first?.startOffset === 0 && !ends.has(s.url)) ends.set(s.url, first.endOffset)
  const end = ends.get(s.url)
  if (end === undefined || (first?.startOffset === 0 && first.endOffset === end)) return s
  return { ...s, functions: [{ functionName: '', ranges: [{ startOffset: 0, endOffset: end, count: 0 }], isBlockCoverage: true }, ...s.functions] }
}

export interface WorkerCoverage {
  /** Write now (install, verify). */
  flush(): void
  /** Write at most every FLUSH_MS (while serving). */
  soon(): void
}

/**
 * Started when this module is evaluated: policy-worker.ts imports it first, so that coverage runs
 * before the modules it measures are (ES modules evaluate in import order). undefined: coverage off.
 */
export const coverage = startWorkerCoverage((workerData as { coverageDir?: string } | null)?.coverageDir)

function startWorkerCoverage(dir: string | undefined): WorkerCoverage | undefined {
  if (!dir) return undefined
  const session = new Session()
  session.connect()
  // Same-thread inspector sessions answer synchronously: every post below has returned when it returns.
  session.post('Profiler.enable')
  session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true })
  let n = 0
  const ends = new Map<string, number>()
  let last = 0
  let timer: NodeJS.Timeout | undefined
  const flush = (): void => {
    clearTimeout(timer)
    timer = undefined
    last = Date.now()
    collectDroppedHandles() // see collect-handles.ts: nothing of isolated-vm left for an exit-time GC
    session.post('Profiler.takePreciseCoverage', (err, data) => {
      if (err) return
      const result = (data.result as unknown as ScriptCoverage[]).filter((s) => ours(s.url)).map((s) => withScriptRange(s, ends))
      const maps: Record<string, unknown> = {}
      for (const s of result) {
        const map = findSourceMap(fileURLToPath(s.url))
        if (!map) continue
        // tsx's maps carry no sourcesContent, and c8 then counts the file as fully covered.
        const data = map.payload.sourcesContent?.[0] ? map.payload : { ...map.payload, sourcesContent: [readFileSync(fileURLToPath(s.url), 'utf8')] }
        maps[s.url] = { lineLengths: (map as { lineLengths?: readonly number[] }).lineLengths, data }
      }
      mkdirSync(dir, { recursive: true }) // Node creates it only when the main thread exits
      writeFileSync(`${dir}/coverage-${process.pid}-${Date.now()}-${threadId}-w${n++}.json`, JSON.stringify({ result, 'source-map-cache': maps }))
    })
  }
  return {
    flush,
    soon() {
      if (timer) return
      const wait = Math.max(0, last + FLUSH_MS - Date.now())
      timer = setTimeout(flush, wait)
      timer.unref()
    },
  }
}
