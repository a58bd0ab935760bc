/**
 * Connection caps for the HTTP(S) server, so that a few hundred idle or half-sent connections cannot
 * use up the process's file descriptors and starve real clients. A total cap (net.Server's
 * maxConnections: the kernel accepts, Node closes the excess at once) and a per-remote-address cap
 * counted here on 'connection'. The timeouts that then close what is held live in build-app's
 * server options (headersTimeout, requestTimeout, keepAliveTimeout, idle timeout).
 */
import type { Server, Socket } from 'node:net'
import type { Logger } from 'pino'

export interface ConnectionLimits {
  readonly maxConnections: number
  readonly maxConnectionsPerAddress: number
}

/** One warning per this many milliseconds at most: an attack must not become a log flood. */
const WARN_EVERY_MS = 10_000

export function applyConnectionLimits(server: Server, limits: ConnectionLimits, logger: Logger): void {
  server.maxConnections = limits.maxConnections
  const perAddress = new Map<string, number>()
  let refused = 0
  let lastWarn = 0
  server.on('connection', (socket: Socket) => {
    // A socket that already closed can have no address; treat it as one shared bucket.
    const address = socket.remoteAddress ?? 'unknown'
    const held = perAddress.get(address) ?? 0
    if (held >= limits.maxConnectionsPerAddress) {
      refused++
      const now = Date.now()
      if (now - lastWarn >= WARN_EVERY_MS) {
        lastWarn = now
        logger.warn({ client: { address }, limit: limits.maxConnectionsPerAddress, refused }, 'http connection refused: too many from one address')
      }
      socket.destroy()
      return
    }
    perAddress.set(address, held + 1)
    socket.once('close', () => {
      const left = (perAddress.get(address) ?? 1) - 1
      if (left <= 0) perAddress.delete(address)
      else perAddress.set(address, left)
    })
  })
}
