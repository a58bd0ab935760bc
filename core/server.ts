/** Binds the ports of a built instance: HTTP now, DHCP and TFTP when configured. */
import type { Config } from './config/config-types.js'
import { build, type BuildOptions, type Bootpolicy } from './http/build-app.js'

export interface RunningServer {
  readonly bp: Bootpolicy
  readonly port: number
  close(): Promise<void>
}

export async function startServer(config: Config, options: BuildOptions = {}): Promise<RunningServer> {
  const bp = await build(config, options)
  await bp.app.listen({ host: config.http.host, port: config.http.port })
  const address = bp.app.server.address()
  const port = typeof address === 'object' && address ? address.port : config.http.port
  bp.logger.info({ host: config.http.host, port }, 'http listening')
  return {
    bp,
    port,
    async close() {
      await bp.close()
    },
  }
}
