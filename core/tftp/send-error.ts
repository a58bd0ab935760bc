/**
 * Answer a request that got as far as a transfer with one ERROR packet (file not found, a plugin
 * failed, shutting down while a plugin was still resolving) from a fresh transfer socket, as RFC
 * 1350 has it, then close that socket. Resolves once it is closed; never rejects.
 */
import type { Logger } from 'pino'
import { createTransferSocket } from './transfer-socket.js'

export function sendError(family: 4 | 6, address: string, client: { address: string; port: number }, packet: Buffer, log: Logger): Promise<void> {
  const { socket, ready } = createTransferSocket(family, address, client)
  // Always listened to: an unheard 'error' (an ICMP reply from a vanished client) would throw.
  socket.on('error', () => undefined)
  return new Promise<void>((resolve) => {
    const close = () => socket.close(() => resolve())
    ready.then(
      () => socket.send(packet, close),
      (err: unknown) => {
        log.error({ err }, 'tftp transfer failed to start')
        close()
      },
    )
  })
}
