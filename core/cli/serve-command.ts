/**
 * bootpolicy serve: build, listen, log where, stop cleanly on SIGINT/SIGTERM. stdout carries JSON
 * log lines only (the "bootpolicy is serving" banner is one of them), so a log shipper can parse
 * every line. `--strict` refuses to start degraded (BP_ERR_SERVER_DEGRADED) before binding a port.
 * A supervisor restarts what exits, so every fatal error ends the process non-zero instead of
 * leaving a half-started server: 2 for a configuration it cannot start with (from main), 1 for a
 * failure to start (port in use, privileges that cannot be dropped) or an uncaught error after start.
 */
import type { Config } from '../config/config-types.js'
import { BootpolicyError, messageOf } from '../errors/bp-error.js'
import type { Bootpolicy } from '../http/build-app.js'
import { startServer, type RunningServer } from '../server.js'
import { flushLogger } from '../log/logger.js'
import { dropPrivileges } from '../privileges/drop-privileges.js'

export interface ServeOptions {
  /** Refuse to start degraded. */
  readonly strict?: boolean
}

export async function serveCommand(config: Config, options: ServeOptions = {}): Promise<number> {
  let server: RunningServer
  try {
    server = await startServer(config, {}, options.strict ? refuseDegraded : undefined)
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
      // The last good policies are written as the user, so that it can replace them later.
      await server.bp.policies.releaseLastGood()
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
  const url = `${scheme}://${shown}:${server.port}${config.http.bootPath}.ipxe`
  const health = server.bp.health()
  // One JSON line says the server is ready, and whether some policy serves an older revision. It is
  // written at level info whatever log.level says (only 'silent' silences it): at `warn` or `error`
  // an operator still learns where it serves, and supervisors wait for this line.
  const banner = config.log.level === 'silent' ? server.bp.logger : server.bp.logger.child({}, { level: 'info' })
  banner.info(
    {
      url,
      chain: `${scheme}://<this-host>:${server.port}${config.http.bootPath}.ipxe`,
      policiesDir: config.policies.dir,
      revision: health.revision,
      status: health.status,
      lastGood: health.stale,
      problemCount: health.problems.length,
    },
    `bootpolicy is serving ${url}${health.stale.length ? ` (${health.stale.length} polic${health.stale.length === 1 ? 'y serves its' : 'ies serve their'} last good revision)` : ''}`,
  )
  await new Promise<void>((resolveStop) => {
    const stop = (): void => resolveStop()
    process.on('SIGINT', stop) // a terminal's Ctrl-C may arrive twice (wrapper + group): stop once
    process.on('SIGTERM', stop)
  })
  await server.close()
  return 0
}

/** serve --strict: any problem /healthz would report stops the start, before a port is bound. */
function refuseDegraded(bp: Bootpolicy): void {
  const { status, problems } = bp.health()
  if (status === 'ok') return
  const listed = problems.slice(0, 5).map((p) => {
    const { policy, template, plugin, code } = p as { policy?: string; template?: string; plugin?: string; code?: string }
    return `${policy ?? template ?? plugin ?? 'server'}: ${code ?? 'problem'}`
  })
  const more = problems.length > listed.length ? ` and ${problems.length - listed.length} more` : ''
  throw new BootpolicyError('BP_ERR_SERVER_DEGRADED', { details: `${problems.length} problem(s): ${listed.join(', ')}${more} (see the log or bootpolicy check)` })
}
