/** bootpolicy check: config, policies and templates; every problem with its file:line; exit 1 on any. */
import { loadConfig } from '../config/load-config.js'
import { messageOf } from '../errors/bp-error.js'
import { PolicySet } from '../policy/policy-set.js'
import { WorkerPool } from '../policy/worker-pool.js'
import { TemplateStore } from '../templates/template-store.js'
import { validateDecision } from '../decision/validate-decision.js'

export async function checkCommand(configFile: string | undefined, format: 'text' | 'json'): Promise<number> {
  const problems: { where: string; message: string }[] = []
  let config
  try {
    config = loadConfig({ file: configFile })
  } catch (err) {
    problems.push({ where: configFile ?? 'config', message: messageOf(err) })
  }
  if (config) {
    const defaultCheck = validateDecision(config.default)
    // Plugin kinds are checked when the server starts with its plugins; core kinds are checked here.
    if (!defaultCheck.ok && !String(config.default.kind).includes('.')) {
      for (const p of defaultCheck.problems) problems.push({ where: 'config default', message: p.replace(/^\$/, 'default') })
    }
    // Policies load in a worker under the server's watchdog: a policy that hangs its thread is
    // reported as timed out instead of hanging the command.
    const pool = new WorkerPool({ size: 1, limits: config.policies, onError: config.policies.onError })
    const policies = new PolicySet(config.policies.dir, config.policies, undefined, {}, pool)
    try {
      await policies.load()
      for (const p of policies.problems) problems.push({ where: p.policy, message: p.message })
    } catch (err) {
      problems.push({ where: config.policies.dir, message: messageOf(err) })
    } finally {
      policies.close()
      await pool.close()
    }
    const templates = new TemplateStore(config.templates.dir)
    for (const p of await templates.load()) problems.push({ where: p.file, message: p.error })
  }
  if (format === 'json') process.stdout.write(`${JSON.stringify({ ok: problems.length === 0, problems }, null, 2)}\n`)
  else if (problems.length === 0) process.stdout.write('ok: config, policies and templates are valid\n')
  else for (const p of problems) process.stdout.write(`${p.where}: ${p.message}\n`)
  return problems.length === 0 ? 0 : 1
}
