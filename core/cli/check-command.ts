/**
 * bootpolicy check: everything that can be known before a machine boots — the config (schema,
 * DHCP/TFTP semantics), the plugins (found, versions, options; never set up), the default
 * decision (plugin kinds too), every policy type-checked and compiled, the templates.
 * One line per problem, `file:line:col: CODE message`; exit 1 on any error (warnings alone: 0).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import type { Config } from '../config/config-types.js'
import { locatePointer } from '../config/json-locate.js'
import { configProblems, PACKAGE_ROOT, readConfigSource, validateConfig, type ConfigSource } from '../config/load-config.js'

import { validateDecision } from '../decision/validate-decision.js'
import { BootpolicyError, messageOf } from '../errors/bp-error.js'
import { defaultImportables } from '../policy/compile-policy.js'
import { isPolicyFile, PolicySet } from '../policy/policy-set.js'
import { typeCheckPolicies } from '../policy/type-check.js'
import { WorkerPool } from '../policy/worker-pool.js'
import { TemplateStore } from '../templates/template-store.js'
import { networkFindings } from './check-network.js'
import { formatJson, formatText, type CheckProblem } from './check-problem.js'
import { findEmptyLuns } from './check-sanboot.js'
import { didYouMean } from '../text/did-you-mean.js'
import { loadRuntimePlugins, type RuntimePlugins } from '../runtime/runtime-plugins.js'
import { escapeRegExp } from '../text/escape-regexp.js'

export async function checkCommand(configFile: string | undefined, format: 'text' | 'json'): Promise<number> {
  const problems = await checkSite(configFile)
  process.stdout.write(format === 'json' ? formatJson(problems) : formatText(problems))
  return problems.some((p) => p.severity === 'error') ? 1 : 0
}

export async function checkSite(configFile: string | undefined): Promise<CheckProblem[]> {
  const problems: CheckProblem[] = []
  let source: ConfigSource
  try {
    source = readConfigSource({ file: configFile })
  } catch (err) {
    // A file that is not JSON: where (line:col), why, and the line with a caret.
    const params = err instanceof BootpolicyError ? err.params : {}
    const code = err instanceof BootpolicyError ? err.code : 'BP_ERR_CONFIG_READ'
    const file = configFile ?? '(config)'
    if (typeof params.reason === 'string') {
      problems.push({
        severity: 'error',
        file,
        line: Number(params.line),
        col: Number(params.col),
        code,
        message: `not JSON: ${params.reason}`,
        ...(typeof params.excerpt === 'string' && { excerpt: params.excerpt }),
      })
    } else {
      problems.push({ severity: 'error', file, line: 1, col: 1, code, message: messageOf(err) })
    }
    return problems
  }
  const configPath = source.file ?? '(config)'
  const at = (pointer: string): { file: string; line: number; col: number } => ({ file: configPath, ...(source.text ? locatePointer(source.text, pointer) : { line: 1, col: 1 }) })
  const invalid = configProblems(source.raw, {}, source.fromEnv)
  if (invalid.length) {
    for (const p of invalid) problems.push({ severity: 'error', ...at(p.at), code: 'BP_ERR_CONFIG_INVALID', message: `${p.path || '(root)'}: ${p.message}` })
    return problems
  }
  const config = validateConfig(source.raw, source.baseDir)

  let plugins: RuntimePlugins | undefined
  try {
    plugins = await loadRuntimePlugins(config, { mode: 'offline' })
  } catch (err) {
    problems.push(pluginProblem(err, config, at))
  }
  const defaultCheck = validateDecision(config.default, plugins?.kinds)
  // Without the plugins, a plugin kind cannot be judged: the plugin's own error is reported instead.
  if (!defaultCheck.ok && (plugins || !String(config.default.kind).includes('.'))) {
    for (const p of defaultCheck.problems) problems.push({ severity: 'error', ...at('/default'), code: 'BP_ERR_CONFIG_INVALID', message: p.replace(/^\$/, 'default') })
  }
  for (const f of networkFindings(config, source.raw)) problems.push({ severity: f.severity, ...at(f.pointer), code: f.code, message: f.message })
  for (const hit of findEmptyLuns(JSON.stringify(config.default))) {
    problems.push({ severity: 'warning', ...at('/default'), code: 'BPWRN005', message: emptyLun(hit.uri) })
  }
  problems.push(...(await checkPolicies(config, plugins, at)))
  problems.push(...(await checkTemplates(config)))
  return problems
}

function emptyLun(uri: string): string {
  return `sanboot URI ${uri} has an empty LUN: iPXE uses LUN 0, tgtd's controller, not a disk (write iscsi:host:::1:iqn)`
}

type Locate = (pointer: string) => { file: string; line: number; col: number }

function pluginProblem(err: unknown, config: Config, at: Locate): CheckProblem {
  const code = err instanceof BootpolicyError ? err.code : 'BP_ERR_PLUGIN_LOAD'
  const name = err instanceof BootpolicyError ? String(err.params.plugin ?? '') : ''
  const index = config.plugins.findIndex((p) => p.name === name)
  const pointer = index < 0 ? '/plugins' : code === 'BP_ERR_PLUGIN_OPTIONS' ? `/plugins/${index}/options` : `/plugins/${index}/name`
  let hint = ''
  if (code === 'BP_ERR_PLUGIN_LOAD' && /not found/.test(messageOf(err))) {
    const folder = join(PACKAGE_ROOT, 'plugins')
    hint = didYouMean(name, existsSync(folder) ? readdirSync(folder) : [])
  }
  return { severity: 'error', ...at(pointer), code, message: `${messageOf(err)}${hint}` }
}

async function checkPolicies(config: Config, plugins: RuntimePlugins | undefined, at: Locate): Promise<CheckProblem[]> {
  const dir = config.policies.dir
  if (!existsSync(dir)) return [{ severity: 'error', ...at('/policies/dir'), code: 'BP_ERR_POLICY_LOAD', message: `policies directory ${dir} does not exist` }]
  const importables = plugins?.importables ?? defaultImportables()
  const problems: CheckProblem[] = []
  const file = (name: string): string => (isAbsolute(name) ? name : join(dir, name))
  for (const d of typeCheckPolicies(dir, importables)) {
    problems.push({ severity: 'error', file: file(d.file), line: d.line, col: d.col, code: 'BP_ERR_POLICY_TYPE', message: `${d.code}: ${d.message}` })
  }
  // Compiling and loading as the server does catches what types cannot: forbidden imports, top-level throws.
  // Policies load in a worker under the server's watchdog: a policy that hangs its thread is
  // reported as timed out instead of hanging the command. It is this one-worker pool and a bare
  // PolicySet rather than createRuntime's: the runtime's policy set writes the last-good store
  // (check must write nothing) and comes with templates, watchers and online plugins check does not run.
  const pool = new WorkerPool({ size: 1, limits: config.policies, onError: config.policies.onError })
  const set = new PolicySet(dir, config.policies, importables, {}, pool)
  try {
    await set.load()
    for (const p of set.problems) {
      const where = new RegExp(`${escapeRegExp(p.policy)}:(\\d+):(\\d+)`).exec(p.message)
      problems.push({ severity: 'error', file: file(p.policy), line: where ? Number(where[1]) : 1, col: where ? Number(where[2]) : 1, code: p.code, message: p.message })
    }
  } catch (err) {
    problems.push({ severity: 'error', ...at('/policies/dir'), code: err instanceof BootpolicyError ? err.code : 'BP_ERR_POLICY_LOAD', message: messageOf(err) })
  } finally {
    set.close()
    await pool.close()
  }
  for (const name of readdirSync(dir).filter(isPolicyFile).sort()) {
    for (const hit of findEmptyLuns(readFileSync(join(dir, name), 'utf8'))) {
      problems.push({ severity: 'warning', file: join(dir, name), line: hit.line, col: hit.col, code: 'BPWRN005', message: emptyLun(hit.uri) })
    }
  }
  return problems
}

async function checkTemplates(config: Config): Promise<CheckProblem[]> {
  const problems: CheckProblem[] = []
  const templates = new TemplateStore(config.templates.dir)
  for (const p of await templates.load()) problems.push({ severity: 'error', file: p.file, line: p.line, col: 1, code: p.code, message: p.error })
  for (const name of templates.list()) {
    const path = join(config.templates.dir, `${name}.ipxe`)
    for (const hit of findEmptyLuns(readFileSync(path, 'utf8'))) {
      problems.push({ severity: 'warning', file: path, line: hit.line, col: hit.col, code: 'BPWRN005', message: emptyLun(hit.uri) })
    }
  }
  return problems
}
