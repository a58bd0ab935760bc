/**
 * What the lease journal asks of the kernel, seen by strace on a real process: a compaction writes
 * a temp file, fsyncs it, renames it over the lease file and then fsyncs the directory (so the
 * rename itself survives a power loss); an append writes its batch and then fdatasyncs the lease
 * file. Order is the order strace saw the calls complete.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { requireTool } from '../../helpers/netns.js'
import { nodeTs, REPO_ROOT } from '../../helpers/dhcp-server.js'
import { completedCalls } from '../../helpers/strace-calls.js'

const execFileP = promisify(execFile)

t.test('compaction: fsync temp, rename, fsync directory; append: write then fdatasync', async (t) => {
  requireTool('strace', 'apt-get install strace')
  const dir = t.testdir()
  const file = join(dir, 'leases.json')
  const trace = join(dir, 'trace')
  await execFileP('strace', ['-f', '-qq', '-y', '-e', 'trace=write,fsync,fdatasync,rename,renameat,renameat2', '-o', trace, process.execPath, ...nodeTs('test/helpers/journal-writes.ts'), file], {
    cwd: REPO_ROOT,
  })
  const calls = completedCalls(await readFile(trace, 'utf8')).filter((l) => l.includes(dir))
  const index = (re: RegExp, from = 0): number => {
    for (let i = from; i < calls.length; i++) if (re.test(calls[i]!)) return i
    return -1
  }
  const esc = dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const tmpWrite = index(new RegExp(`^write\\(\\d+<${esc}/leases\\.json\\.tmp-[^>]+>, "\\{\\\\"version\\\\":3\\}`))
  const tmpSync = index(new RegExp(`^fsync\\(\\d+<${esc}/leases\\.json\\.tmp-[^>]+>\\)\\s+= 0`), tmpWrite)
  const renamed = index(new RegExp(`^rename(at2?)?\\(.*leases\\.json\\.tmp-.*"${esc}/leases\\.json".*= 0`), tmpSync)
  const dirSync = index(new RegExp(`^fsync\\(\\d+<${esc}>\\)\\s+= 0`), renamed)
  t.ok(tmpWrite >= 0, 'the compaction writes a temp file')
  t.ok(tmpSync > tmpWrite, 'fsyncs it')
  t.ok(renamed > tmpSync, 'then renames it over the lease file')
  t.ok(dirSync > renamed, 'then fsyncs the directory')
  const append = index(new RegExp(`^write\\(\\d+<${esc}/leases\\.json>, ".*10\\.0\\.0\\.12`), dirSync)
  const flushed = index(new RegExp(`^fdatasync\\(\\d+<${esc}/leases\\.json>\\)\\s+= 0`), append)
  t.ok(append > dirSync, 'the append writes the batch to the lease file')
  t.ok(flushed > append, 'and then fdatasyncs it')
  if (flushed < 0 || dirSync < 0) t.comment(calls.join('\n'))
})
