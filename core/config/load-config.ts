/**
 * Config = embedded default ← file (JSON) ← environment overrides, validated as a whole.
 * Relative paths resolve against the config file's folder (the package root for the default).
 * Environment: BOOTPOLICY_CONFIG names the file; `BOOTPOLICY__http__port=8081` sets http.port
 * (double underscore separates path segments; values are parsed as JSON when they parse).
 * Problems are told to a person: where a file is not JSON (line:col and the line), which values an
 * enum allows, what type was given, the closest known key, and which variable set a bad value.
 */
import { readFileSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Ajv } from 'ajv'
import { BootpolicyError, messageOf } from '../errors/bp-error.js'
import { configSchema } from './config-schema.js'
import type { Config, ConfigShape } from './config-types.js'
import { explainSchemaError } from './explain-schema-error.js'
import { jsonSyntaxFault } from './json-syntax.js'

export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), import.meta.url.includes('/dist/') ? '../../..' : '../..')

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true })
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
  /** JSON pointer → the BOOTPOLICY__… variable that set it (or created it as a parent). */
  readonly fromEnv: ReadonlyMap<string, string>
}

export interface ConfigProblem {
  /** JSON pointer, e.g. `/http/port`; empty for the root. */
  readonly path: string
  readonly message: string
  /** Where to point in the file: for an unknown key the key itself, else `path`. */
  readonly at: string
}

export function loadConfig(options: LoadOptions = {}): Config {
  const source = readConfigSource(options)
  return validateConfig(source.raw, source.baseDir, options.sections, source.fromEnv)
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
    } catch (err) {
      throw new BootpolicyError('BP_ERR_CONFIG_READ', { file, details: messageOf(err) }, { cause: err })
    }
    // An editor's byte order mark is not a JSON fault.
    if (text.startsWith('\uFEFF')) text = text.slice(1)
    try {
      raw = JSON.parse(text) as Record<string, unknown>
    } catch {
      // V8's SyntaxError quotes the text (an adminToken, perhaps): it is not kept as the cause.
      const fault = jsonSyntaxFault(text)
      // Compiler style on its own line, so that an editor or a terminal can jump to it.
      const where = fault ? `not JSON\n${file}:${fault.line}:${fault.col}: ${fault.reason}\n${fault.excerpt}` : 'not JSON'
      throw new BootpolicyError('BP_ERR_CONFIG_READ', { file, details: where, line: fault?.line ?? 1, col: fault?.col ?? 1, reason: fault?.reason ?? 'not valid JSON', excerpt: fault?.excerpt })
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new BootpolicyError('BP_ERR_CONFIG_INVALID', { details: '(root): must be an object' })
    }
    baseDir = dirname(resolve(file))
  }
  const fromEnv = applyEnv(raw, env)
  if (options.overrides) deepAssign(raw, options.overrides)
  return { raw, baseDir, fromEnv, ...(file !== undefined && { file }), ...(text !== undefined && { text }) }
}

/** Every schema and section violation, each with its JSON pointer. `raw` is not modified. */
export function configProblems(raw: Record<string, unknown>, sections: LoadOptions['sections'] = {}, fromEnv: ConfigSource['fromEnv'] = new Map()): ConfigProblem[] {
  return collect(structuredClone(raw), sections, fromEnv)
}

function collect(data: Record<string, unknown>, sections: LoadOptions['sections'] = {}, fromEnv: ConfigSource['fromEnv'] = new Map()): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  if (!validate(data)) {
    for (const e of validate.errors ?? []) {
      const explained = explainSchemaError(e)
      problems.push({ path: e.instancePath, message: explained.message, at: explained.pointer })
    }
  }
  for (const [key, check] of Object.entries(sections ?? {})) {
    for (const p of check(data[key])) {
      const m = /^(\/\S*)\s*:?\s*(.*)$/.exec(p)
      const path = m ? `/${key}${m[1]}` : `/${key}`
      problems.push({ path, message: m ? m[2]! : p, at: path })
    }
  }
  return problems.map((p) => {
    const variable = envVariableOf(p.at, fromEnv)
    return variable ? { ...p, message: `${p.message} (set by environment variable ${variable})` } : p
  })
}

/** The variable that set the value at `pointer`, or one of its parents. */
function envVariableOf(pointer: string, fromEnv: ConfigSource['fromEnv']): string | undefined {
  for (let p = pointer; ; p = p.slice(0, p.lastIndexOf('/'))) {
    const name = fromEnv.get(p)
    if (name) return name
    if (p === '') return undefined
  }
}

/** The config with defaults filled in and paths made absolute, deep-frozen. */
export function validateConfig(raw: Record<string, unknown>, baseDir: string, sections: LoadOptions['sections'] = {}, fromEnv: ConfigSource['fromEnv'] = new Map()): Config {
  const data = structuredClone(raw)
  const problems = collect(data, sections, fromEnv)
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

/** Returns which variable set (or created) each pointer, so that a bad value names its variable. */
function applyEnv(target: Record<string, unknown>, env: NodeJS.ProcessEnv): Map<string, string> {
  const fromEnv = new Map<string, string>()
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
    let pointer = ''
    for (const key of path.slice(0, -1)) {
      pointer += `/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`
      if (typeof obj[key] !== 'object' || obj[key] === null) {
        obj[key] = {}
        fromEnv.set(pointer, name)
      }
      obj = obj[key] as Record<string, unknown>
    }
    obj[path.at(-1)!] = parsed
    fromEnv.set(`${pointer}/${path.at(-1)!.replace(/~/g, '~0').replace(/\//g, '~1')}`, name)
  }
  return fromEnv
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
