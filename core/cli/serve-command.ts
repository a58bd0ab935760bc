/** bootpolicy serve: build, listen, print where, stop cleanly on SIGINT/SIGTERM. */
import type { Config } from '../config/config-types.js'
import { startServer } from '../server.js'
import { bootTree } from '../plugins/load-plugins.js'

export async function serveCommand(config: Config): Promise<number> {
  const server = await startServer(config)
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
