/** What the main thread and a transfer worker (transfer-worker.ts) say to each other. */
import type { TransferEnd, TransferSpec } from './run-transfer.js'

export type ToWorker = { t: 'start'; id: number; spec: TransferSpec } | { t: 'abort'; id: number; message: string } | { t: 'test-crash' }

export type FromWorker = { t: 'ready' } | ({ t: 'end'; id: number } & TransferEnd)
