/**
 * The test helper that reaps detached children (test/helpers/group-guardian.ts): a test process
 * killed with SIGKILL — what tap's timeout escalates to — must not leave its detached `serve`
 * group behind holding the runner's pipes.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../core/config/load-config.js'
import { isAlive } from '../helpers/process-alive.js'

// A stand-in test process: spawns a detached group (a shell and its sleep child), guards it, prints the group id.
const fakeTest = `
import { spawn } from 'node:child_process'
import { guardProcessGroup } from ${JSON.stringify(join(PACKAGE_ROOT, 'test/helpers/group-guardian.ts'))}
const child = spawn('sh', ['-c', 'sleep 600 & wait'], { detached: true, stdio: 'ignore' })
guardProcessGroup(child.pid)
process.stdout.write(String(child.pid) + '\\n')
setInterval(() => {}, 1000)
`

const groupAlive = (pgid: number): boolean => {
  try {
    process.kill(-pgid, 0)
    return true
  } catch {
    return false
  }
}

t.test('a SIGKILLed test process takes its detached group with it', async (t) => {
  const test = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', fakeTest], { stdio: ['ignore', 'pipe', 'inherit'], cwd: PACKAGE_ROOT })
  let out = ''
  test.stdout.on('data', (c: Buffer) => (out += c))
  while (!out.includes('\n')) await once(test.stdout, 'data')
  const pgid = Number(out.trim())
  t.ok(groupAlive(pgid), 'the detached group runs while the test does')
  test.kill('SIGKILL')
  await once(test, 'exit')
  t.notOk(isAlive(test.pid!), 'the test process is gone')
  const deadline = Date.now() + 15_000
  while (groupAlive(pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200))
  t.notOk(groupAlive(pgid), 'the guardian killed the whole group within 15 s')
})
