/**
 * Standard output's destination (core/log/coalesced-destination.ts) over a real sonic-boom: the
 * first line of a turn is handed over at once, the rest of the turn in one string, in order; flush
 * and exit write what is held. The exit case runs a real child process writing to a pipe.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { coalesce } from '../../../core/log/coalesced-destination.js'

function fileBoom() {
  const file = join(mkdtempSync(join(tmpdir(), 'bp-coalesce-')), 'log')
  const boom = pino.destination({ dest: file, sync: false, mkdir: true })
  const handed: string[] = []
  const write = boom.write.bind(boom)
  boom.write = (s: string) => {
    handed.push(s)
    return write(s)
  }
  return { file, boom, handed }
}

/** sonic-boom's end: what was handed to it is written, then the file closes (its flush does not wait). */
function ended(boom: ReturnType<typeof pino.destination>): Promise<void> {
  return new Promise((r) => {
    boom.once('close', () => r())
    boom.end()
  })
}

t.test('one turn: the first line at once, the rest as one string, in order', async (t) => {
  const { file, boom, handed } = fileBoom()
  await new Promise((r) => boom.once('ready', r))
  const dest = coalesce(boom)
  const lines = Array.from({ length: 1000 }, (_, i) => `{"n":${i}}\n`)
  dest.write(lines[0]!)
  t.same(handed, [lines[0]], 'the first line of a turn reaches sonic-boom at once')
  for (const l of lines.slice(1)) dest.write(l)
  t.equal(handed.length, 1, 'the rest are held until the turn ends')
  await new Promise((r) => setImmediate(r))
  t.equal(handed.length, 2, 'one hand-over for the rest of the turn')
  dest.write('{"n":"next turn"}\n')
  t.equal(handed.length, 3, 'a new turn starts with a line written at once')
  dest.flush(() => undefined)
  await ended(boom)
  t.equal(readFileSync(file, 'utf8'), `${lines.join('')}{"n":"next turn"}\n`)
})

t.test('flush writes what the turn holds', async (t) => {
  const { file, boom } = fileBoom()
  await new Promise((r) => boom.once('ready', r))
  const dest = coalesce(boom)
  for (let i = 0; i < 5; i++) dest.write(`${i}\n`)
  dest.flush(() => undefined)
  // In the same turn: without flush, the lines after the first would still be held here.
  await ended(boom)
  t.equal(readFileSync(file, 'utf8'), '0\n1\n2\n3\n4\n')
})

t.test('lines held at process.exit are written (a real child on a pipe)', async (t) => {
  const script = [
    "import { pino } from 'pino'",
    `import { coalesce } from ${JSON.stringify(new URL('../../../core/log/coalesced-destination.ts', import.meta.url).pathname)}`,
    'const boom = pino.destination({ dest: 1, sync: false })',
    "boom.once('ready', () => {",
    '  const dest = coalesce(boom)',
    '  for (let i = 0; i < 5000; i++) dest.write(`line ${i} ${"x".repeat(200)}\\n`)',
    '  process.exit(0)',
    '})',
  ].join('\n')
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'], cwd: new URL('../../..', import.meta.url).pathname })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c))
  const code = await new Promise((r) => child.on('close', r))
  t.equal(code, 0)
  const got = out.split('\n').filter(Boolean)
  t.equal(got.length, 5000, 'every line written before exit')
  t.equal(got[4999]?.startsWith('line 4999 '), true, 'in order, the last one last')
})
