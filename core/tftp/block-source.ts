/**
 * Where a read transfer's blocks come from, without a copy or an allocation per block:
 * - `bufferSource`: the whole file in memory (a virtual file, or a boot file from the bounded file
 *   cache); a block is a slice of that one Buffer, shared by every transfer of the file;
 * - `handleSource`: a file too large to cache, read from its checked descriptor in 256 KiB chunks
 *   into one buffer per transfer, reloaded when a window moves past it.
 * `ensure(first, last)` makes blocks first..last (1-based) available: synchronously (undefined) or
 * after a read (a promise). `block(n)` is then a slice valid until the next `ensure`.
 */
import type { FileHandle } from 'node:fs/promises'

export interface BlockSource {
  readonly size: number
  ensure(first: number, last: number): Promise<void> | undefined
  block(n: number): Buffer
  close(): void
}

export function bufferSource(data: Buffer, blksize: number): BlockSource {
  return {
    size: data.length,
    ensure: () => undefined,
    block: (n) => data.subarray((n - 1) * blksize, Math.min(n * blksize, data.length)),
    close: () => undefined,
  }
}

const CHUNK_BYTES = 256 * 1024

export function handleSource(handle: FileHandle, size: number, blksize: number, windowsize: number): BlockSource {
  // At least one whole window fits in a chunk, whatever the block size.
  const blocksPerChunk = Math.max(windowsize, Math.floor(CHUNK_BYTES / blksize))
  const chunk = Buffer.allocUnsafe(blocksPerChunk * blksize)
  let firstHeld = 0
  let lastHeld = -1
  let closed = false
  return {
    size,
    ensure(first, last) {
      if (first >= firstHeld && last <= lastHeld) return undefined
      const start = (first - 1) * blksize
      const length = Math.min(chunk.length, size - start)
      return (async () => {
        let offset = 0
        while (offset < length) {
          const { bytesRead } = await handle.read(chunk, offset, length - offset, start + offset)
          if (bytesRead === 0) throw new Error('file shrank during the transfer')
          offset += bytesRead
        }
        firstHeld = first
        lastHeld = first + blocksPerChunk - 1
      })()
    },
    block(n) {
      const from = (n - firstHeld) * blksize
      const end = Math.min(from + blksize, size - (firstHeld - 1) * blksize)
      return chunk.subarray(from, Math.max(from, end))
    },
    close() {
      if (closed) return
      closed = true
      void handle.close().catch(() => undefined)
    },
  }
}
