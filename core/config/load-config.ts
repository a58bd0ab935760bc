/**
 * Config = embedded default ← file (JSON) ← environment overrides, validated as a whole.
 * Relative paths resolve against the config file's folder (the package root for the default).
 * Environment: BOOTPOLICY_CONFIG names the file; `BOOTPOLICY__http__port=8081` sets http.port
 * (double underscore separates path segments; values are parsed as JSON when they parse).
 */
import { readFileSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Ajv } from 'ajv'
import { BootpolicyError } from '../errors/bp-error.js'
import { configSchema } from './config-schema.js'
import type { Config, ConfigShape } from './config-types.js'

export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), import.meta.url.includes('/dist/') ? '../../..' : '../..')

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false })
const validate = ajv.compile(configSchema)

export interface LoadOptions {
  readonly file?: string
  readonly env?: NodeJS.ProcessEnv
  /** Extra overrides applied last (CLI flags, tests). */
  readonly overrides?: Record<string, unknown>
  /** Additional section validators (dhcp, tftp) run after the main schema. */
  readonly sections?: Readonly<Record<string, (value: unknown) => string[]>>
}

export interface ConfigSource {
  /** The file's object with environment overrides and `overrides` applied, before validation. */
  readonly raw: Record<string, unknown>
  readonly baseDir: string
  readonly file?: string
  /** The file's text, for locating problems (`bootpolicy check`). */
  readonly text?: string
}

export interface ConfigProblem {
  /** JSON pointer, e.g. `/http/port`; empty for the root. */
  readonly path: string
  readonly message: string
}

export function loadConfig(options: LoadOptions = {}): Config {
  const source = readConfigSource(options)
  return validateConfig(source.raw, source.baseDir, options.sections)
}

/** Read the file (if any) and apply the overrides; throws BP_ERR_CONFIG_READ / _INVALID for a bad file. */
export function readConfigSource(options: LoadOptions = {}): ConfigSource {
  const env = options.env ?? process.env
  const file = options.file ?? env.BOOTPOLICY_CONFIG
  let raw: Record<string, unknown> = {}
  let baseDir = PACKAGE_ROOT
  let text: string | undefined
  if (file) {
    try {
      text = readFileSync(file, 'utf8')
      raw = JSON.parse(text) as Record<string, unknown>
    } catch (err) {
      throw new BootpolicyError('BP_ERR_CONFIG_READ', { file }, { cause: err })
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new BootpolicyError('BP_ERR_CONFIG_INVALID', { details: '(root): must be an object' })
    }
    baseDir = dirname(resolve(file))
  }
  applyEnv(raw, env)
  if (options.overrides) deepAssign(raw, options.overrides)
  return { raw, baseDir, ...(file !== undefined && { file }), ...(text !== undefined && { text }) }
}

/** Every schema and section violation, each with its JSON pointer. `raw` is not modified. */
export function configProblems(raw: Record<string, unknown>, sections: LoadOptions['sections'] = {}): ConfigProblem[] {
  return collect(structuredClone(raw), sections)
}

function collect(data: Record<string, unknown>, sections: LoadOptions['sections'] = {}): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  if (!validate(data)) {
    for (const e of validate.errors ?? []) {
      const extra = e.keyword === 'additionalProperties' ? ` "${(e.params as { additionalProperty: string }).additionalProperty}"` : ''
      problems.push({ path: e.instancePath, message: `${e.message}${extra}` })
    }
  }
  for (const [key, check] of Object.entries(sections ?? {})) {
    for (const p of check(data[key])) {
      const m = /^(\/\S*)\s*:?\s*(.*)$/.exec(p)
      problems.push(m ? { path: `/${key}${m[1]}`, message: m[2]! } : { path: `/${key}`, message: p })
    }
  }
  return problems
}

/** The config with defaults filled in and paths made absolute, deep-frozen. */
export function validateConfig(raw: Record<string, unknown>, baseDir: string, sections: LoadOptions['sections'] = {}): Config {
  const data = structuredClone(raw)
  const problems = collect(data, sections)
  if (problems.length) throw new BootpolicyError('BP_ERR_CONFIG_INVALID', { details: problems.map((p) => `${p.path || '(root)'}: ${p.message}`).join('; ') })
  const config = data as unknown as ConfigShape
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p))
  config.policies.dir = abs(config.policies.dir)
  config.templates.dir = abs(config.templates.dir)
  if (config.files.dir) config.files.dir = abs(config.files.dir)
  config.stateDir = abs(config.stateDir)
  config.tftp.root = abs(config.tftp.root)
  if (config.http.tls) {
    config.http.tls.cert = abs(config.http.tls.cert)
    config.http.tls.key = abs(config.http.tls.key)
  }
  config.baseDir = baseDir
  return freezeDeep(config) as Config
}

/**
 * The validated config is read by every part for the life of the process: frozen, so that no
 * part can change what another part sees (a spread copy is how a caller varies it).
 */
function freezeDeep<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value as object)) freezeDeep(v)
    Object.freeze(value)
  }
  return value
}

function applyEnv(target: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('BOOTPOLICY__') || value === undefined) continue
    const path = name.slice('BOOTPOLICY__'.length).split('__').filter(Boolean)
    if (path.length === 0) continue
    let parsed: unknown = value
    try {
      parsed = JSON.parse(value)
    } catch {
      // a bare string
    }
    let obj = target
    for (const key of path.slice(0, -1)) {
      if (typeof obj[key] !== 'object' || obj[key] === null) obj[key] = {}
      obj = obj[key] as Record<string, unknown>
    }
    obj[path.at(-1)!] = parsed
  }
}

function deepAssign(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(source)) {
    if (v && typeof v === 'object' && !Array.isArray(v) && target[k] && typeof target[k] === 'object' && !Array.isArray(target[k])) {
      deepAssign(target[k] as Record<string, unknown>, v as Record<string, unknown>)
    } else {
      target[k] = v
    }
  }
}

