/**
 * The bounded file cache (core/files/file-cache.ts) against real files: a burst of concurrent
 * misses reads the file once; a file rewritten in place or replaced is read again; the limits in
 * bytes hold; files over the per-file limit are left to the caller.
 */
import t from 'tap'
import { mkdtempSync, renameSync, rmSync, writeFileSync, utimesSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createFileCache } from '../../../core/files/file-cache.js'

const dir = mkdtempSync(join(tmpdir(), 'bp-file-cache-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

async function readVia(cache: ReturnType<typeof createFileCache>, file: string): Promise<Buffer | undefined> {
  const handle = await open(file, 'r')
  try {
    return await cache.read(handle, await handle.stat())
  } finally {
    await handle.close()
  }
}

t.test('50 concurrent misses of one file read it once and all get its bytes', async (t) => {
  const file = join(dir, 'initrd')
  const bytes = Buffer.alloc(3 * 1024 * 1024, 7)
  writeFileSync(file, bytes)
  const cache = createFileCache({ maxBytes: 16 << 20, maxFileBytes: 8 << 20 })
  const results = await Promise.all(Array.from({ length: 50 }, () => readVia(cache, file)))
  for (const r of results) t.ok(r?.equals(bytes))
  t.equal(cache.stats().misses, 1, 'one read')
  t.equal(cache.stats().hits, 49)
  t.equal(cache.stats().bytes, bytes.length)
})

t.test('a file rewritten in place, or replaced by another inode, is read again', async (t) => {
  const file = join(dir, 'kernel')
  writeFileSync(file, 'version one')
  const cache = createFileCache({ maxBytes: 1 << 20, maxFileBytes: 1 << 20 })
  t.equal((await readVia(cache, file))?.toString(), 'version one')
  // Same inode, same size, new content: the mtime (forced forward) and ctime differ.
  writeFileSync(file, 'version two')
  utimesSync(file, new Date(), new Date(Date.now() + 5000))
  t.equal((await readVia(cache, file))?.toString(), 'version two', 'rewritten in place')
  writeFileSync(join(dir, 'kernel.new'), 'version three')
  renameSync(join(dir, 'kernel.new'), file)
  t.equal((await readVia(cache, file))?.toString(), 'version three', 'replaced')
})

t.test('the byte limits hold: least recently used entries go, oversized files are not cached', async (t) => {
  const cache = createFileCache({ maxBytes: 3000, maxFileBytes: 2000 })
  for (const name of ['a', 'b', 'c', 'd']) writeFileSync(join(dir, name), Buffer.alloc(1000, name))
  writeFileSync(join(dir, 'huge'), Buffer.alloc(2001))
  for (const name of ['a', 'b', 'c']) await readVia(cache, join(dir, name))
  await readVia(cache, join(dir, 'a')) // a is now the most recent
  await readVia(cache, join(dir, 'd')) // evicts b
  t.ok(cache.stats().bytes <= 3000, `${cache.stats().bytes} bytes held`)
  const before = cache.stats().misses
  await readVia(cache, join(dir, 'a'))
  t.equal(cache.stats().misses, before, 'a stayed')
  await readVia(cache, join(dir, 'b'))
  t.equal(cache.stats().misses, before + 1, 'b was evicted')
  t.equal(await readVia(cache, join(dir, 'huge')), undefined, 'over maxFileBytes: the caller streams')
  t.equal(await readVia(createFileCache({ maxBytes: 0, maxFileBytes: 2000 }), join(dir, 'a')), undefined, 'maxBytes 0: off')
})
