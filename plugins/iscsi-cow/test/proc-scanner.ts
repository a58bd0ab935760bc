/**
 * Watches the process list the way a local user can: a separate process reads every
 * /proc/<pid>/cmdline in a tight loop and keeps each distinct command line it saw. Tests look for
 * secrets in it afterwards, and check that it did see short-lived commands (tgtadm), so that
 * "no secret seen" means something.
 */
import { spawn } from 'node:child_process'

const SCANNER = `
const fs = require('node:fs')
const seen = new Set()
let scans = 0
let stop = false
process.stdin.on('data', () => { stop = true })
// The test process died (a killed tap run): its end of the pipe closed, so stop instead of spinning on.
process.stdin.on('end', () => { stop = true })
function loop() {
  for (let i = 0; i < 20 && !stop; i++) {
    for (const pid of fs.readdirSync('/proc')) {
      if (pid.charCodeAt(0) < 48 || pid.charCodeAt(0) > 57) continue
      try { seen.add(fs.readFileSync('/proc/' + pid + '/cmdline', 'latin1').split('\\0').join(' ').trim()) } catch {}
    }
    scans++
  }
  if (stop) { process.stdout.write(JSON.stringify({ scans, seen: [...seen] })); process.exit(0) }
  setImmediate(loop)
}
process.stdout.write('ready\\n')
loop()
`

export interface ScanResult {
  readonly scans: number
  readonly seen: readonly string[]
}

export interface ProcScanner {
  stop(): Promise<ScanResult>
}

export async function scanProcesses(): Promise<ProcScanner> {
  const child = spawn(process.execPath, ['-e', SCANNER], { stdio: ['pipe', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (b: Buffer) => (out += b))
  await new Promise<void>((resolve, reject) => {
    child.once('exit', () => reject(new Error(`process scanner exited early: ${out}`)))
    const wait = (): void => {
      if (out.startsWith('ready\n')) resolve()
      else setTimeout(wait, 5)
    }
    wait()
  })
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  return {
    async stop() {
      child.stdin.end('stop\n')
      await exited
      return JSON.parse(out.slice('ready\n'.length)) as ScanResult
    },
  }
}
