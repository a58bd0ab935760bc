/**
 * iscsi-cow: what a user's disk costs. Against a private tgtd on loopback, with a 64 MiB base:
 * - cold provisioning (new user: base check, overlay, qemu-storage-daemon export, target, CHAP),
 *   median of 10 users, as a ratio to one raw `tgtadm --op show` round trip;
 * - warm re-login (existing disk: new secret, connections closed), median of 20;
 * - disk space per new user before any write, against a full copy (`cp --reflink=never`).
 * Needs root and the tools of scripts/debian-packages.txt.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger } from '../core/log/logger.js'
import { openIscsiCow } from '../plugins/iscsi-cow/index.js'
import { killDaemons, makeBase } from '../plugins/iscsi-cow/test/helpers.js'
import { startTgtd } from '../test/helpers/tgtd.js'
import type { BenchResult } from './lib.js'

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const round = (n: number): number => Math.round(n * 100) / 100

export async function run(): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bp-bench-iscsi-'))
  const tgtd = await startTgtd()
  const stateDir = join(dir, 'state')
  try {
    const base = join(dir, 'fc29.img')
    makeBase(base, 64)
    const p = openIscsiCow(
      { images: { fc29: { base } }, portal: { address: '127.0.0.1', port: tgtd.port }, hostname: 'bench.example', tgtadm: { controlPort: tgtd.controlPort } },
      { baseDir: dir, stateDir, logger: createLogger('silent') },
    )
    await p.attach('fc29', 'warmup') // records the base identity (sha256 of 64 MiB) once, as the first login does
    const cold: number[] = []
    const sizes: number[] = []
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now()
      await p.attach('fc29', `user${i}`)
      cold.push(performance.now() - t0)
      sizes.push(statSync(p.backend.paths('fc29', `user${i}`).overlay).blocks * 512)
    }
    const warm: number[] = []
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now()
      await p.attach('fc29', 'user0')
      warm.push(performance.now() - t0)
    }
    const show: number[] = []
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now()
      execFileSync('tgtadm', ['-C', String(tgtd.controlPort), '--lld', 'iscsi', '--mode', 'target', '--op', 'show'], { stdio: 'ignore' })
      show.push(performance.now() - t0)
    }
    const copy = join(dir, 'copy.img')
    execFileSync('cp', ['--reflink=never', base, copy])
    const copyBytes = statSync(copy).blocks * 512
    const perUser = median(sizes)
    await p.stopAll()
    return {
      name: 'iscsi-cow per-user disks (qcow2 backend, 64 MiB base, loopback tgtd)',
      figures: [
        { name: 'raw tgtadm --op show round trip', value: round(median(show)), unit: 'ms' },
        { name: 'provision a new user (cold), median of 10', value: round(median(cold)), unit: 'ms', ratio: median(cold) / median(show), baseline: 'one tgtadm call', target: '< 1000 ms' },
        { name: 're-login of an existing user (warm), median of 20', value: round(median(warm)), unit: 'ms', ratio: median(warm) / median(show), baseline: 'one tgtadm call', target: '< 500 ms' },
        { name: 'full copy of the base (cp --reflink=never)', value: round(copyBytes / 1024), unit: 'KiB' },
        { name: 'disk used per new user before any write', value: round(perUser / 1024), unit: 'KiB', ratio: perUser / copyBytes, baseline: 'full copy', target: '< 1024 KiB' },
      ],
    }
  } finally {
    killDaemons(join(stateDir, 'run'))
    await tgtd.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await run(), null, 2))
}
