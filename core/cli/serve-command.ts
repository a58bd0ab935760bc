/**
 * bootpolicy serve: build, listen, print where, stop cleanly on SIGINT/SIGTERM.
 * A supervisor restarts what exits, so every fatal error ends the process non-zero instead of
 * leaving a half-started server: 2 for a configuration it cannot start with (from main), 1 for a
 * failure to start (port in use, privileges that cannot be dropped) or an uncaught error after start.
 */
import type { Config } from '../config/config-types.js'
import { BootpolicyError, messageOf } from '../errors/bp-error.js'
import { startServer, type RunningServer } from '../server.js'
import { bootTree } from '../plugins/load-plugins.js'
import { flushLogger } from '../log/logger.js'
import { dropPrivileges } from '../privileges/drop-privileges.js'

export async function serveCommand(config: Config): Promise<number> {
  let server: RunningServer
  try {
    server = await startServer(config)
  } catch (err) {
    // Configuration problems keep main's exit code 2; anything else is a failed start.
    if (err instanceof BootpolicyError && err.code.startsWith('BP_ERR_CONFIG_')) throw err
    const code = err instanceof BootpolicyError ? `${err.code}: ` : ''
    process.stderr.write(`bootpolicy: ${code}${messageOf(err)}\n`)
    return 1
  }
  if (config.user && config.group) {
    // Every socket is bound and every module loaded by now: nothing later needs root.
    try {
      const dropped = dropPrivileges({ user: config.user, group: config.group, stateDir: config.stateDir })
      server.bp.logger.info({ user: config.user, group: config.group, uid: dropped.uid, gid: dropped.gid }, 'privileges dropped')
    } catch (err) {
      server.bp.logger.fatal({ err }, 'cannot drop privileges; exiting')
      process.stderr.write(`bootpolicy: ${err instanceof BootpolicyError ? `${err.code}: ` : ''}${messageOf(err)}\n`)
      await server.close().catch(() => undefined)
      return 1
    }
  }
  const fatal = (err: unknown): void => {
    // Logged through the redacting logger, not printed raw: an error's message may carry a secret.
    server.bp.logger.fatal({ err }, 'fatal error; exiting')
    process.exit(1)
  }
  process.on('uncaughtException', fatal)
  process.on('unhandledRejection', fatal)
  // The log is written in the background to the same stdout: its lines first, then the banner.
  await flushLogger(server.bp.logger)
  const scheme = config.http.tls ? 'https' : 'http'
  const shown = config.http.host === '0.0.0.0' || config.http.host === '::' ? '127.0.0.1' : config.http.host
  process.stdout.write(`${bootTree(server.bp.loadedPlugins)}\n`)
  process.stdout.write(
    `bootpolicy is serving ${scheme}://${shown}:${server.port}${config.http.bootPath}.ipxe (policies: ${config.policies.dir})\n` +
      `iPXE clients: chain ${scheme}://<this-host>:${server.port}${config.http.bootPath}.ipxe\n`,
  )
  await new Promise<void>((resolveStop) => {
    const stop = (): void => resolveStop()
    process.on('SIGINT', stop) // a terminal's Ctrl-C may arrive twice (wrapper + group): stop once
    process.on('SIGTERM', stop)
  })
  await server.close()
  return 0
}
