/**
 * Gives a simulated client its leased address, as a real client configures its NIC after the ACK:
 * `ip addr add` on the generator's interface, through one long-running `ip -force -batch -` (a
 * process per address would cost more than the servers under test). An address is ready when a
 * socket can bind it; `bind` polls for that, so a client never sends from an address the kernel
 * does not have yet.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import dgram from 'node:dgram'

export class AddressBinder {
  readonly #ip: ChildProcess
  readonly #added = new Map<string, Promise<void>>()
  #stderr = ''

  constructor(
    readonly ifname: string,
    readonly prefixLength: number,
  ) {
    this.#ip = spawn('ip', ['-force', '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] })
    this.#ip.stderr!.setEncoding('utf8').on('data', (c: string) => {
      this.#stderr = (this.#stderr + c).slice(-2000)
    })
    this.#ip.on('error', (err) => {
      this.#stderr += `\n${err.message}`
    })
  }

  /** Adds `address` (once) and resolves when it can be bound; rejects after `timeoutMs`. */
  bind(address: string, timeoutMs = 10_000): Promise<void> {
    let ready = this.#added.get(address)
    if (!ready) {
      this.#ip.stdin!.write(`addr add ${address}/${this.prefixLength} dev ${this.ifname}\n`)
      ready = this.#waitBindable(address, timeoutMs)
      this.#added.set(address, ready)
    }
    return ready
  }

  async #waitBindable(address: string, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      if (await canBind(address)) return
      if (performance.now() > deadline) throw new Error(`address ${address} not configured after ${timeoutMs} ms; ip said: ${this.#stderr}`)
      await new Promise((r) => setTimeout(r, 5))
    }
  }

  async close(): Promise<void> {
    if (this.#ip.exitCode !== null) return
    const exited = new Promise((r) => this.#ip.once('exit', r))
    this.#ip.stdin!.end()
    await exited
  }
}

function canBind(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4')
    s.once('error', () => {
      s.close()
      resolve(false)
    })
    s.bind(0, address, () => {
      s.close()
      resolve(true)
    })
  })
}
