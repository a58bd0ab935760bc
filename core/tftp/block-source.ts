/**
 * Where a read transfer's blocks come from, without a copy or an allocation per block:
 * - `bufferSource`: the whole file in memory (a virtual file, or a boot file from the bounded file
 *   cache); a block is a slice of that one Buffer, shared by every transfer of the file;
 * - `fdSource`: a file too large to cache, read from its checked descriptor in 256 KiB chunks into
 *   one buffer per transfer, reloaded when a window moves past it. It takes the raw descriptor
 *   number so that a transfer worker thread can read it (descriptors are per process); whoever
 *   opened the file closes it, after the transfer ends.
 * `ensure(first, last)` makes blocks first..last (1-based) available: synchronously (undefined) or
 * after a read (a promise). `block(n)` is then a slice valid until the next `ensure`.
 */
import { read } from 'node:fs'

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

const readAt = (fd: number, buffer: Buffer, offset: number, length: number, position: number) =>
  new Promise<number>((resolve, reject) => read(fd, buffer, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))))

export function fdSource(fd: number, size: number, blksize: number, windowsize: number): BlockSource {
  // At least one whole window fits in a chunk, whatever the block size.
  const blocksPerChunk = Math.max(windowsize, Math.floor(CHUNK_BYTES / blksize))
  const chunk = Buffer.allocUnsafe(blocksPerChunk * blksize)
  let firstHeld = 0
  let lastHeld = -1
  return {
    size,
    ensure(first, last) {
      if (first >= firstHeld && last <= lastHeld) return undefined
      const start = (first - 1) * blksize
      const length = Math.min(chunk.length, size - start)
      return (async () => {
        let offset = 0
        while (offset < length) {
          const bytesRead = await readAt(fd, chunk, offset, length - offset, start + offset)
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
    close: () => undefined,
  }
}
