/**
 * A tgtd inside a TestNet, on the server IP's iSCSI port, with a control socket of its own (so
 * parallel tests and the host's tgtd never meet). Its pid names the mount namespace bootpolicy must
 * share (`nsenter --mount=/proc/<pid>/ns/mnt`): every `ip netns exec` has a private one, and the
 * FUSE export of iscsi-cow's qemu-storage-daemon must be visible to tgtd.
 */
import { execFile } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { promisify } from 'node:util'
import type { TestNet } from './e2e-net.js'
import type { OwnedProcess } from './e2e-process.js'

const execFileP = promisify(execFile)

export interface NetTgtd {
  readonly process: OwnedProcess
  readonly pid: number
  readonly controlPort: number
  tgtadm(...args: string[]): Promise<string>
  stop(): Promise<void>
}

export async function startNetTgtd(net: TestNet, name = 'tgtd'): Promise<NetTgtd> {
  let control = 1024 + Math.floor(Math.random() * 30000)
  while (existsSync(`/var/run/tgtd/socket.${control}`)) control++
  const proc = net.spawn(name, 'tgtd', ['-f', '-C', String(control), '--iscsi', `portal=${net.serverIp}:3260`])
  const tgtadm = async (...args: string[]): Promise<string> => (await execFileP('tgtadm', ['-C', String(control), '--lld', 'iscsi', ...args])).stdout
  let up = false
  for (let i = 0; i < 200 && !up; i++) {
    up = await tgtadm('--mode', 'target', '--op', 'show').then(
      () => true,
      () => false,
    )
    if (!up) await new Promise((r) => setTimeout(r, 50))
  }
  const cleanup = (): void => {
    for (const f of [`/var/run/tgtd/socket.${control}`, `/var/run/tgtd/socket.${control}.lock`]) rmSync(f, { force: true })
  }
  if (!up || readFileSync(`/proc/${proc.pid}/comm`, 'utf8').trim() !== 'tgtd') {
    await proc.stop()
    cleanup()
    throw new Error(`e2e: tgtd in ${net.name} did not answer on control port ${control} (log ${proc.logFile})`)
  }
  return {
    process: proc,
    pid: proc.pid,
    controlPort: control,
    tgtadm,
    stop: async () => {
      await proc.stop()
      cleanup()
    },
  }
}
