/** What the main thread and a transfer worker (transfer-worker.ts) say to each other. */
import type { TransferEnd, TransferSpec } from './run-transfer.js'

export type ToWorker = { t: 'start'; id: number; spec: TransferSpec } | { t: 'abort'; id: number; message: string } | { t: 'drop'; id: number } | { t: 'test-crash' }

export type FromWorker = { t: 'ready' } | { t: 'first-ack'; id: number } | ({ t: 'end'; id: number } & TransferEnd)
