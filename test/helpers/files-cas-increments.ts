/**
 * Parallel compare-and-set increments on the files backend, in a process of its own so that the
 * caller can shrink libuv's thread pool (UV_THREADPOOL_SIZE is read once, at the pool's start):
 * with two threads, a read's open/read/close queue behind the writers' fsyncs, which widens the
 * window where a read and a write of one document overlap. Prints {"counts":[...]} (one per round).
 *   UV_THREADPOOL_SIZE=2 node --import tsx test/helpers/files-cas-increments.ts ROUNDS PARALLEL
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FileStateBackend } from '../../core/state/file-backend.js'
import { parallelIncrements } from './state-backends.js'

const [rounds, parallel] = process.argv.slice(2).map(Number) as [number, number]
const counts: number[] = []
for (let r = 0; r < rounds; r++) {
  const dir = mkdtempSync(join(tmpdir(), 'bp-cas-'))
  try {
    const b = new FileStateBackend(dir)
    await b.write('n', 0)
    await parallelIncrements(b, 'n', parallel)
    counts.push((await b.read<number>('n'))!)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
process.stdout.write(`${JSON.stringify({ counts })}\n`)
