/** Wait until a freshly started test service accepts TCP on 127.0.0.1:port, or fail with its own words. */
import type { ChildProcess } from 'node:child_process'
import { connect } from 'node:net'

export async function waitForTcp(port: number, child: ChildProcess, name: string, details: () => string = () => '', timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode} before listening: ${details().trim()}`)
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1')
      s.once('connect', () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > until) throw new Error(`${name} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms: ${details().trim()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
