/**
 * A process that races a file server for real: for 60 s it swaps `root/boot.bin` between a regular
 * file with `legit` contents and a symlink to `outside/secret`, and `root/dir` between a directory
 * holding `file` and a symlink to `outside`. It runs in its own process so the swaps land between
 * the server's system calls, not only between its awaits. Killed at the test's teardown.
 */
import { spawn } from 'node:child_process'

const SWAPPER = `
const fs = require('node:fs'), path = require('node:path')
const [root, outside, legit] = process.argv.slice(1)
const name = path.join(root, 'boot.bin'), dirName = path.join(root, 'dir')
const end = Date.now() + 60000
for (let i = 0; Date.now() < end; i++) {
  if (i % 2) {
    fs.writeFileSync(path.join(root, '.f'), legit)
    fs.renameSync(path.join(root, '.f'), name)
    fs.mkdirSync(path.join(root, '.d'), { recursive: true })
    fs.writeFileSync(path.join(root, '.d', 'file'), legit)
    fs.rmSync(dirName, { recursive: true, force: true })
    fs.renameSync(path.join(root, '.d'), dirName)
  } else {
    fs.rmSync(path.join(root, '.l'), { force: true })
    fs.symlinkSync(path.join(outside, 'secret'), path.join(root, '.l'))
    fs.renameSync(path.join(root, '.l'), name)
    fs.rmSync(path.join(root, '.dl'), { force: true })
    fs.symlinkSync(outside, path.join(root, '.dl'))
    fs.rmSync(dirName, { recursive: true, force: true })
    fs.renameSync(path.join(root, '.dl'), dirName)
  }
}
`

export function startSymlinkSwapper(t: { teardown(fn: () => unknown): void }, root: string, outside: string, legit: string): void {
  const swapper = spawn(process.execPath, ['-e', SWAPPER, root, outside, legit], { stdio: ['ignore', 'ignore', 'inherit'] })
  t.teardown(() => swapper.kill('SIGKILL'))
}
