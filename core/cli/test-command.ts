/** bootpolicy test [dir]: run `<policy>.test.ts` cases; exit 1 if any case fails or errors. */
import { resolve } from 'node:path'
import { loadConfig } from '../config/load-config.js'
import { runPolicyTests } from '../policy/policy-tests.js'
import { loadRuntimePlugins } from '../runtime/runtime-plugins.js'

export async function testCommand(configFile: string | undefined, dir: string | undefined, format: 'text' | 'json'): Promise<number> {
  const config = loadConfig({ file: configFile })
  const target = dir ? resolve(dir) : config.policies.dir
  // The configured plugins' policy helpers and decision kinds, without running the plugins.
  const plugins = await loadRuntimePlugins(config, { mode: 'offline' })
  const results = await runPolicyTests(target, config.policies, plugins.importables, plugins.kinds)
  const failed = results.filter((r) => r.status !== 'PASS').length
  if (format === 'json') {
    process.stdout.write(`${JSON.stringify({ dir: target, results, passed: results.length - failed, failed }, null, 2)}\n`)
  } else {
    for (const r of results) {
      process.stdout.write(`${r.status.padEnd(5)} ${r.policy}: ${r.name}${r.message ? `\n      ${r.message}` : ''}\n`)
    }
    process.stdout.write(`${results.length - failed} passed, ${failed} failed\n`)
  }
  return failed > 0 || results.length === 0 ? 1 : 0
}
