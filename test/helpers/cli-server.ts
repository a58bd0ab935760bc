/**
 * A real server on loopback with an admin token, and the built CLI run against it (`--config` with
 * the token, `--server` its URL): the fixture of the CLI commands that are clients of the HTTP API.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Test } from 'tap'
import { build, type Bootpolicy } from '../../core/http/build-app.js'
import { tempPolicies } from './policy-dir.js'
import { type CliResult, runCliAsync } from './site-dir.js'

export interface CliServer {
  readonly bp: Bootpolicy
  readonly dir: string
  readonly address: string
  /** The CLI with the token's config and this server. */
  run(...args: string[]): Promise<CliResult>
}

export async function serveForCli(t: Test, adminToken: string): Promise<CliServer> {
  const policies = tempPolicies({ 'p.ts': `export default () => ({ kind: 'exit' })` })
  t.teardown(() => policies.remove())
  const bp = await build(policies.config({ http: { adminToken, host: '127.0.0.1', port: 0 }, stateDir: join(policies.dir, 'var') }))
  t.teardown(() => bp.close())
  const address = await bp.app.listen({ host: '127.0.0.1', port: 0 })
  const config = join(policies.dir, 'cli.json')
  writeFileSync(config, JSON.stringify({ http: { adminToken } }))
  return { bp, dir: policies.dir, address, run: (...args) => runCliAsync([...args, '--config', config, '--server', address], policies.dir) }
}
