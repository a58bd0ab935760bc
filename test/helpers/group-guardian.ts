/**
 * A test that spawns a detached child (its own process group, so that stop() reaches the CLI's
 * re-exec'd grandchild too) must not leave it running when the test itself dies: tap's timeout
 * or a ^C kills the test, never its detached children, and a surviving `serve` keeps the test's
 * output pipe open so the runner waits for ever. The guardian is a host shell that polls this
 * process and SIGKILLs the group once this process is gone, however it died.
 */
import { spawn } from 'node:child_process'

/** Kill process group `pgid` (a detached child's pid) once this test process has exited. */
export function guardProcessGroup(pgid: number | undefined): void {
  if (pgid === undefined) return
  const script = 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; kill -9 -"$2" 2>/dev/null; exit 0'
  const guardian = spawn('sh', ['-c', script, 'bp-test-group-guardian', String(process.pid), String(pgid)], {
    detached: true,
    stdio: 'ignore',
  })
  guardian.unref()
}
