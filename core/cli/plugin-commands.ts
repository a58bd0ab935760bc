/**
 * `bootpolicy <command>` for a command core does not have: the configured plugins are loaded
 * offline (resolved, checked, options validated; setup never runs) and the registry names the
 * plugin that serves the command. Also the "Plugin commands" part of `bootpolicy help`.
 */
import { join } from 'node:path'
import pino from 'pino'
import type { Config } from '../config/config-types.js'
import { loadConfig } from '../config/load-config.js'
import { BootpolicyError, messageOf } from '../errors/bp-error.js'
import { createLogger } from '../log/logger.js'
import { PluginRegistry, type RegisteredCommand } from '../plugins/plugin-registry.js'
import { parseArgs } from './args.js'
import { closest } from '../text/did-you-mean.js'
import { COMMAND_HELP } from './help-text.js'
import { loadRuntimePlugins } from '../runtime/runtime-plugins.js'
import { openStateBackend } from '../state/open-state-backend.js'
import type { StateBackend } from '../state/state-backend.js'

const COMMON_FLAGS = ['config', 'format', 'help']

/** The one place that loads plugins for commands (re-point it when the runtime module lands). */
export async function registryOf(config: Config): Promise<PluginRegistry> {
  return PluginRegistry.of((await loadRuntimePlugins(config, { mode: 'offline' })).loaded.map((l) => l.plugin))
}

/** `--config FILE` / `--config=FILE` before the command's own flags are known. */
export function configFlag(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg.startsWith('--config=')) return arg.slice('--config='.length)
    if (arg === '--config' && argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) return argv[i + 1]
  }
  return undefined
}

function usageLine(c: RegisteredCommand): string {
  return `${c.name} ${c.command.usage}`
}

export async function runPluginCommand(argv: readonly string[], configFile: string | undefined): Promise<number> {
  const name = argv[0]!
  let config: Config
  let registry: PluginRegistry
  try {
    config = loadConfig({ file: configFile })
    registry = await registryOf(config)
  } catch (err) {
    // A misspelled core command should read as one, even when the config is broken.
    throw unknownCommand(name, [], `; plugin commands are unavailable: ${err instanceof BootpolicyError ? `${err.code}: ` : ''}${messageOf(err)}`)
  }
  const found = registry.commands.get(name)
  if (!found) throw unknownCommand(name, [...registry.commands.keys()], '')
  const args = parseArgs(argv, [...COMMON_FLAGS, ...(found.command.flags ?? [])])
  if (args.flags.help) {
    process.stdout.write(commandHelp(found))
    return 0
  }
  const logger = createLogger('warn', pino.destination({ dest: 2, sync: true }))
  let state: Promise<StateBackend> | undefined
  let code: number
  try {
    code = await found.command.run({
      positional: args.positional,
      flags: args.flags,
      format: args.flags.format === 'json' ? 'json' : 'text',
      baseDir: config.baseDir,
      stateDir: join(config.stateDir, 'plugins', found.plugin),
      logger,
      write: (text) => void process.stdout.write(text),
      openState: () => (state ??= openStateBackend(config.state, config.stateDir, { log: logger.child({ component: 'state' }) })),
    })
  } finally {
    await (await state?.catch(() => undefined))?.close()
  }
  return Number.isInteger(code) && code >= 0 && code <= 255 ? code : 1
}

export function commandHelp(c: RegisteredCommand): string {
  return `Usage: bootpolicy ${usageLine(c)} [--config FILE] [--format text|json]

${c.command.summary} (plugin ${c.plugin})
${c.command.help ?? ''}`
}

/** Help for `bootpolicy help NAME` when NAME is a plugin's command; undefined when no plugin has it. */
export async function pluginCommandHelp(name: string, configFile: string | undefined): Promise<string | undefined> {
  const registry = await registryOf(loadConfig({ file: configFile }))
  const found = registry.commands.get(name)
  return found && commandHelp(found)
}

/** The overview's extra section, or '' without a config; a note on stderr when the plugins do not load. */
export async function pluginCommandsOverview(configFile: string | undefined): Promise<string> {
  if (configFile === undefined && !process.env.BOOTPOLICY_CONFIG) return ''
  let registry: PluginRegistry
  try {
    registry = await registryOf(loadConfig({ file: configFile }))
  } catch (err) {
    process.stderr.write(`bootpolicy: plugin commands are not listed: ${err instanceof BootpolicyError ? `${err.code}: ` : ''}${messageOf(err)}\n`)
    return ''
  }
  if (registry.commands.size === 0) return ''
  const lines = ['', 'Plugin commands (from the configured plugins):']
  for (const c of registry.commands.values()) {
    lines.push(`  ${usageLine(c)}`, `                        ${c.command.summary} (plugin ${c.plugin})`)
  }
  return `${lines.join('\n')}\n`
}

export function unknownCommand(name: string, pluginCommands: readonly string[], note: string): BootpolicyError {
  const hit = closest(name, [...Object.keys(COMMAND_HELP), ...pluginCommands])
  return new BootpolicyError('BP_ERR_CLI_USAGE', { details: `unknown command "${name}"${hit ? `; did you mean "${hit}"?` : ''}${note} (see bootpolicy help)` })
}
