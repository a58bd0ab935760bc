/**
 * The whole-suite secret trail: when scripts/test.sh sets BP_TEST_TRAIL (a directory), test
 * helpers append the secrets they create to `$BP_TEST_TRAIL/secrets` (one JSON string a line) and
 * the lines they capture (logs here; HTTP response bodies via trail-responses.mjs) to files beside
 * it. After tap, scripts/check-secret-trail.ts fails the run if any secret appears in any captured
 * line. Without the variable every call is a no-op (single test files run as before).
 */
import { appendFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const dir = process.env.BP_TEST_TRAIL
/** Arrays of captured lines, read when the process exits (lines captured later are included). */
const captured: Array<readonly string[]> = []
let exitHook = false

/** Remember a secret a test created (a password, a CHAP secret) so that the checker looks for it. */
export function trailSecret(secret: string): void {
  if (dir) appendFileSync(join(dir, 'secrets'), `${JSON.stringify(secret)}\n`)
}

/** Keep a live array of captured lines (e.g. log lines) for the checker. */
export function trailLines(lines: readonly string[]): void {
  if (!dir) return
  captured.push(lines)
  if (exitHook) return
  exitHook = true
  process.once('exit', () => {
    const body = captured.flat().join('\n')
    if (body) writeFileSync(join(dir, `logs-${process.pid}.txt`), `${body}\n`)
  })
}
