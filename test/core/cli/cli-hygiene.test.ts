/** The CLI as a shell user meets it: --version, --help per command, suggestions, a closed pipe. Real bin/bootpolicy.js (built dist/). */
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../../core/config/load-config.js'
import { BIN, runCli } from '../../helpers/site-dir.js'

// Each case spawns the real CLI several times (node, TypeScript, isolated-vm): on a loaded 2-core machine a file takes minutes.
t.setTimeout(600_000)

const cwd = tmpdir()
const version = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version

t.test('--version prints the package version', async (t) => {
  for (const args of [['--version'], ['check', '--version']]) {
    const r = runCli(args, cwd)
    t.equal(r.code, 0, r.err)
    t.equal(r.out, `bootpolicy ${version}\n`)
  }
})

t.test('every command of the overview has its own --help', async (t) => {
  const overview = runCli(['help'], cwd).out
  const commands = [...new Set([...overview.slice(overview.indexOf('Commands:'), overview.indexOf('Options:')).matchAll(/^ {2}([a-z]+)/gm)].map((m) => m[1]!))]
  t.ok(commands.length >= 7, `commands: ${commands.join(' ')}`)
  for (const c of commands) {
    const r = runCli([c, '--help'], cwd)
    t.equal(r.code, 0, `${c} --help: ${r.err}`)
    t.match(r.out, new RegExp(`^Usage: bootpolicy ${c}\\b`), `${c} --help`)
  }
  const check = runCli(['help', 'check'], cwd).out
  t.equal(check, runCli(['check', '--help'], cwd).out, 'help check = check --help')
  t.match(check, /file:line:col: CODE message/)
})

t.test('hazard: an unknown command or option only said "see help"; now it suggests the closest', async (t) => {
  const cmd = runCli(['chekc'], cwd)
  t.equal(cmd.code, 2)
  t.match(cmd.err, /unknown command "chekc"; did you mean "check"\?/)
  const opt = runCli(['check', '--formt', 'json'], cwd)
  t.equal(opt.code, 2)
  t.match(opt.err, /unknown option --formt; did you mean --format\?/)
  t.notMatch(runCli(['zzzzzzzz'], cwd).err, /did you mean/, 'no far-fetched suggestion')
})

t.test('hazard: output into a closed pipe (bootpolicy help | head -1) died with an EPIPE stack trace', async (t) => {
  // A reader that is gone before the first write, as `head` is after its first line: deterministic, unlike a race with head.
  const child = spawn(process.execPath, [BIN, 'help'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout.destroy()
  let err = ''
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)))
  t.equal(code, 0, err)
  t.notMatch(err, /EPIPE|Error|at /, 'no stack trace')
  // And through a real head.
  const r = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" help | head -1`], { cwd, encoding: 'utf8' })
  if (r.error) throw new Error(`sh/head are needed for this test: ${r.error.message}`)
  t.equal(r.stdout, 'Usage: bootpolicy <command> [options]\n')
  t.equal(r.stderr, '')
})
