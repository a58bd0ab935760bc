/**
 * A transfer worker thread (see transfer-pool.ts): it owns the sockets and the lock-step/window
 * loops of the transfers the main thread hands it, and reports each one's end. It never opens a
 * file by name, parses a request or decides what may be served: the main thread did that and
 * sends the bytes or an already checked descriptor.
 */
import { parentPort } from 'node:worker_threads'
import { type RunningTransfer, runTransfer } from './run-transfer.js'
import type { FromWorker, ToWorker } from './transfer-messages.js'

const port = parentPort
if (!port) throw new Error('transfer-worker.ts runs only as a worker thread')
const running = new Map<number, RunningTransfer>()

port.on('message', (msg: ToWorker) => {
  if (msg.t === 'start') {
    const { id } = msg
    running.set(
      id,
      runTransfer(msg.spec, {
        onEnd(end) {
          running.delete(id)
          port.postMessage({ t: 'end', id, ...end } satisfies FromWorker)
        },
        onFirstAck: () => port.postMessage({ t: 'first-ack', id } satisfies FromWorker),
      }),
    )
  } else if (msg.t === 'abort') {
    running.get(msg.id)?.abort(msg.message)
  } else if (msg.t === 'drop') {
    running.get(msg.id)?.drop()
  } else if (msg.t === 'test-crash') {
    // An uncaught exception, as a bug in this thread would raise: the pool must survive it.
    throw new Error('transfer worker crash requested by a test')
  }
})
port.postMessage({ t: 'ready' } satisfies FromWorker)
