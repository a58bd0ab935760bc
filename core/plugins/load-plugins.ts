/**
 * Load the plugins named in the config, in order: resolve (explicit path, first-party folder
 * under plugins/, or an npm package resolved from the config's folder), call the factory,
 * check the bootpolicy range and dependencies, validate options against the plugin's schema
 * (every violation at once), then run setup with a time limit. Prints a boot tree with timings.
 * A malformed definition or a collision with core or an earlier plugin is refused before setup
 * (plugin-registry.ts).
 */
import { FileStateBackend } from '../state/file-backend.js'
import { fileStateDir } from '../state/open-state-backend.js'
import type { StateBackend } from '../state/state-backend.js'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { isAbsolute, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Ajv } from 'ajv'
import type { Logger } from 'pino'
import semver from 'semver'
import { PACKAGE_ROOT } from '../config/load-config.js'
import type { PluginEntry } from '../config/config-types.js'
import { BootpolicyError, messageOf } from '../errors/bp-error.js'
import { PluginRegistry } from './plugin-registry.js'
import type { BootpolicyPlugin, PluginFactory } from './types.js'

export const BOOTPOLICY_VERSION: string = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false })
const runningFromDist = import.meta.url.includes('/dist/')

export interface LoadedPlugin {
  readonly plugin: BootpolicyPlugin
  readonly source: string
  readonly setupMs: number
}

export interface LoadPluginOptions {
  readonly baseDir: string
  readonly stateDir: string
  readonly bootPath: string
  readonly setupTimeoutMs: number
  readonly logger: Logger
  /** Handed to every setup (PluginApi.state); default: the files backend under stateDir. */
  readonly state?: StateBackend
  /**
   * false: resolve, check and validate only (policy tests need helpers and kinds, not running
   * plugins); a function: set up only the plugins it accepts (explain).
   */
  readonly setup?: boolean | ((plugin: BootpolicyPlugin) => boolean)
  /** The registry to fill (the caller hands it to the PluginHost, so it is built once); default a new one. */
  readonly registry?: PluginRegistry
}

/** Where a plugin's module is: explicit path, first-party folder, or npm package. */
export function resolvePluginModule(entry: PluginEntry, baseDir: string): string {
  if (entry.path) return isAbsolute(entry.path) ? entry.path : resolve(baseDir, entry.path)
  if (/^[a-z0-9][a-z0-9-]*$/.test(entry.name)) {
    const folder = runningFromDist ? join(PACKAGE_ROOT, 'dist', 'plugins', entry.name) : join(PACKAGE_ROOT, 'plugins', entry.name)
    for (const file of ['index.js', 'index.ts']) {
      if (existsSync(join(folder, file))) return join(folder, file)
    }
  }
  for (const from of [baseDir, PACKAGE_ROOT]) {
    try {
      return createRequire(join(from, 'package.json')).resolve(entry.name)
    } catch {
      // try the next place
    }
  }
  throw new BootpolicyError('BP_ERR_PLUGIN_LOAD', { plugin: entry.name, details: `not found in plugins/ nor as an npm package from ${baseDir} (npm install ${entry.name})` })
}

async function importFactory(entry: PluginEntry, file: string): Promise<PluginFactory> {
  let mod: { default?: unknown }
  try {
    mod = (await import(pathToFileURL(file).href)) as { default?: unknown }
  } catch (err) {
    throw new BootpolicyError('BP_ERR_PLUGIN_LOAD', { plugin: entry.name, details: messageOf(err) }, { cause: err })
  }
  const factory = (mod.default as { default?: unknown } | undefined)?.default ?? mod.default
  if (typeof factory !== 'function') {
    throw new BootpolicyError('BP_ERR_PLUGIN_LOAD', { plugin: entry.name, details: 'the module must default-export a factory function (options) => plugin' })
  }
  return factory as PluginFactory
}

export function validatePluginOptions(plugin: BootpolicyPlugin, options: Record<string, unknown>): string[] {
  if (!plugin.schema) return []
  const validate = ajv.compile(plugin.schema)
  if (validate(options)) return []
  return (validate.errors ?? []).map((e) => {
    const extra = e.keyword === 'additionalProperties' ? ` "${(e.params as { additionalProperty: string }).additionalProperty}"` : ''
    return `${e.instancePath || '(options)'}: ${e.message}${extra}`
  })
}

export async function loadPlugins(entries: readonly PluginEntry[], options: LoadPluginOptions): Promise<LoadedPlugin[]> {
  const loaded: LoadedPlugin[] = []
  // Only what was started is closed on a failure: a plugin loaded without setup never is.
  const started: BootpolicyPlugin[] = []
  // Definitions and collisions are refused here, before any setup of this plugin runs.
  const registry = options.registry ?? new PluginRegistry()
  try {
    for (const entry of entries.filter((e) => e.enabled !== false)) {
      const file = resolvePluginModule(entry, options.baseDir)
      const factory = await importFactory(entry, file)
      const pluginOptions = structuredClone(entry.options ?? {})
      // The schema comes with the plugin, so defaults are filled into this same object after the
      // factory returns: plugins read their options in setup and hooks, not in the factory body.
      const plugin = await factory(pluginOptions)
      if (!plugin || typeof plugin.name !== 'string' || typeof plugin.version !== 'string' || typeof plugin.bootpolicy !== 'string') {
        throw new BootpolicyError('BP_ERR_PLUGIN_LOAD', { plugin: entry.name, details: 'the factory must return { name, version, bootpolicy, … }' })
      }
      registry.add(plugin)
      if (!semver.satisfies(BOOTPOLICY_VERSION, plugin.bootpolicy, { includePrerelease: true })) {
        throw new BootpolicyError('BP_ERR_PLUGIN_VERSION', { plugin: plugin.name, range: plugin.bootpolicy, version: BOOTPOLICY_VERSION })
      }
      for (const dep of plugin.dependencies ?? []) {
        if (!loaded.some((l) => l.plugin.name === dep)) throw new BootpolicyError('BP_ERR_PLUGIN_DEPENDENCY', { plugin: plugin.name, dependency: dep })
      }
      const problems = validatePluginOptions(plugin, pluginOptions)
      if (problems.length) throw new BootpolicyError('BP_ERR_PLUGIN_OPTIONS', { plugin: plugin.name, details: problems.join('; ') })

      const stateDir = join(options.stateDir, 'plugins', plugin.name)
      const t0 = performance.now()
      const wanted = typeof options.setup === 'function' ? options.setup(plugin) : options.setup !== false
      if (plugin.setup && wanted) {
        mkdirSync(stateDir, { recursive: true })
        await withTimeout(plugin.name, options.setupTimeoutMs, () =>
          plugin.setup!({
            logger: options.logger.child({ plugin: plugin.name }),
            stateDir,
            bootPath: options.bootPath,
            baseDir: options.baseDir,
            state: options.state ?? fallbackState(options.stateDir),
          }),
        )
      }
      if (wanted) started.push(plugin)
      loaded.push({ plugin, source: file, setupMs: Math.round((performance.now() - t0) * 100) / 100 })
    }
  } catch (err) {
    // Close what was set up, in reverse order, before reporting.
    for (const p of started.reverse()) await p.close?.().catch(() => undefined)
    throw err
  }
  return loaded
}

async function withTimeout(plugin: string, ms: number, fn: () => Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      fn().catch((err: unknown) => {
        throw err instanceof BootpolicyError ? err : new BootpolicyError('BP_ERR_PLUGIN_HOOK', { plugin, hook: 'setup', details: messageOf(err) }, { cause: err })
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new BootpolicyError('BP_ERR_PLUGIN_TIMEOUT', { plugin, hook: 'setup', timeoutMs: ms })), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** The boot tree printed at start: one line per plugin with version, hooks and setup time. */
export function bootTree(loaded: readonly LoadedPlugin[]): string {
  if (loaded.length === 0) return 'plugins: (none)'
  const lines = ['plugins:']
  loaded.forEach((l, i) => {
    const last = i === loaded.length - 1
    const hooks = Object.keys(l.plugin.hooks ?? {}).join(', ') || 'no hooks'
    const kinds = Object.keys(l.plugin.decisionKinds ?? {})
    lines.push(`${last ? '└─' : '├─'} ${l.plugin.name}@${l.plugin.version} (setup ${l.setupMs} ms) hooks: ${hooks}${kinds.length ? `; kinds: ${kinds.join(', ')}` : ''}`)
  })
  return lines.join('\n')
}

let fallback: { dir: string; state: StateBackend } | undefined
/** One files backend per state directory when the caller passed none (plugin tests, the CLI). */
function fallbackState(stateDir: string): StateBackend {
  if (fallback?.dir !== stateDir) fallback = { dir: stateDir, state: new FileStateBackend(fileStateDir(stateDir)) }
  return fallback.state
}
