/**
 * A symlink swapped in after the check, over TFTP: the same open-once mechanism as /files
 * (core/files/open-safe-file.ts). A child process renames a regular file and a symlink to a secret
 * outside the root over the same name (and a directory and a symlinked directory over another)
 * while hundreds of real read requests race it; no DATA packet may carry the secret.
 */
import t from 'tap'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { opcodeOf, rawExchange, rrq, startTftp } from '../../helpers/tftp.js'
import { startSymlinkSwapper } from '../../helpers/symlink-swapper.js'

const SECRET = 'SECRET-outside-the-tftp-root'
const LEGIT = 'legit tftp boot file'

t.test('hazard: TFTP follows a symlink swapped in after the check', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'bp-tftp-race-'))
  t.teardown(() => rmSync(base, { recursive: true, force: true }))
  const root = join(base, 'root')
  const outside = join(base, 'outside')
  mkdirSync(root)
  mkdirSync(outside)
  writeFileSync(join(outside, 'secret'), SECRET)
  writeFileSync(join(outside, 'file'), SECRET)
  writeFileSync(join(root, 'boot.bin'), LEGIT)
  const { service, port } = await startTftp(root)
  t.teardown(() => service.close())
  startSymlinkSwapper(t, root, outside, LEGIT)

  let leaked = 0
  let served = 0
  let refused = 0
  for (let round = 0; round < 30; round++) {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => rawExchange(port, rrq(i % 2 ? 'boot.bin' : 'dir/file'), 150)))
    for (const { replies } of results) {
      for (const reply of replies) {
        if (reply.includes(SECRET)) leaked++
        if (opcodeOf(reply) === 3 && reply.subarray(4).toString() === LEGIT) served++
        if (opcodeOf(reply) === 5) refused++
      }
    }
  }
  t.comment(`600 read requests: ${served} DATA with the legitimate file, ${refused} ERROR`)
  t.equal(leaked, 0, 'the secret outside the root was never sent')
  t.ok(served > 0, 'the legitimate file was served while the swap raced')
})
