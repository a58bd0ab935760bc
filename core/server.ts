/**
 * Binds the ports of a built instance: HTTP, and DHCP and TFTP when configured — three front
 * doors over one runtime (core/runtime). A failure at any step closes everything already
 * started, so the process is left with nothing that keeps it alive.
 */
import type { Config } from './config/config-types.js'
import { BootpolicyError, messageOf } from './errors/bp-error.js'
import { createDhcpService, type DhcpService } from './dhcp/dhcp-service.js'
import { build, type BuildOptions, type Bootpolicy } from './http/build-app.js'
import type { Runtime } from './runtime/create-runtime.js'
import { recordDhcp } from './timeline/record-dhcp.js'
import { createTftpService, type TftpService } from './tftp/tftp-service.js'

export interface RunningServer {
  readonly bp: Bootpolicy
  readonly port: number
  close(): Promise<void>
}

/** `beforeListen` may refuse the built instance (serve --strict) by throwing: nothing is bound then. */
export async function startServer(config: Config, options: BuildOptions = {}, beforeListen?: (bp: Bootpolicy) => void): Promise<RunningServer> {
  const bp = await build(config, options)
  try {
    beforeListen?.(bp)
  } catch (err) {
    await bp.close().catch(() => undefined)
    throw err
  }
  try {
    await bp.app.listen({ host: config.http.host, port: config.http.port })
  } catch (cause) {
    await bp.close().catch(() => undefined)
    throw new BootpolicyError('BP_ERR_SERVER_LISTEN', { address: `${config.http.host}:${config.http.port}`, details: messageOf(cause) }, { cause })
  }
  const address = bp.app.server.address()
  const port = typeof address === 'object' && address ? address.port : config.http.port
  bp.logger.info({ host: config.http.host, port }, 'http listening')
  const services: (DhcpService | TftpService)[] = []
  try {
    if (config.tftp.enabled) services.push(await startTftp(bp.runtime))
    if (config.dhcp.mode && config.dhcp.mode !== 'off') services.push(await startDhcp(bp.runtime))
    await bp.plugins.ready()
  } catch (err) {
    for (const s of services.reverse()) await s.close().catch(() => undefined)
    await bp.close()
    throw err
  }
  return {
    bp,
    port,
    async close() {
      for (const s of [...services].reverse()) await s.close().catch(() => undefined)
      await bp.close()
    },
  }
}

/** The TFTP front door: the configured root, plus the plugins' virtual files. */
async function startTftp(runtime: Runtime): Promise<TftpService> {
  const { plugins } = runtime
  const tftp = createTftpService(runtime.config.tftp, {
    logger: runtime.logger,
    ...(plugins.hasVirtualFiles && { virtualFile: (path, client) => plugins.virtualFile(path, { ...client, protocol: 'tftp' }) }),
    onTransfer: (t) => runtime.timeline.record({ ip: t.address }, 'tftp', 'transfer', { file: t.file, bytes: t.bytes, outcome: t.outcome, ms: t.ms }),
  })
  await tftp.start()
  return tftp
}

/** The DHCP front door: the configured mode, with the plugins' dhcpOffer overrides. */
async function startDhcp(runtime: Runtime): Promise<DhcpService> {
  const { plugins } = runtime
  const dhcp = createDhcpService(dhcpConfigFor(runtime.config), {
    logger: runtime.logger,
    stateDir: runtime.config.stateDir,
    onPacket: (p) => recordDhcp(runtime.timeline, p),
    state: runtime.state,
    ...(plugins.hasDhcpOffer && { decideBoot: (facts) => plugins.dhcpOffer(facts) }),
  })
  await dhcp.start()
  runtime.metrics.sources.push(() => dhcp.metrics())
  return dhcp
}

/** DHCP hands iPXE this server's own bootstrap URL unless the config names another one. */
export function dhcpConfigFor(config: Config): Config['dhcp'] {
  const boot = config.dhcp.boot ?? {}
  const httpPort = boot.httpPort ?? config.http.port
  const scheme = config.http.tls ? 'https' : 'http'
  const needsUrl = !boot.ipxeBootstrapUrl && (config.http.tls || config.http.bootPath !== '/boot') && config.dhcp.serverAddress
  return {
    ...config.dhcp,
    boot: {
      ...boot,
      httpPort,
      ...(needsUrl && { ipxeBootstrapUrl: `${scheme}://${config.dhcp.serverAddress}:${httpPort}${config.http.bootPath}.ipxe` }),
    },
  }
}
