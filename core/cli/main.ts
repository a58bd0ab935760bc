/**
 * bootpolicy <command>: init, serve, check, test, explain, cert, intent, machines, timeline, help, and the commands of the
 * configured plugins (plugin-commands.ts).
 * Exit codes: 0 success; 1 a check or test failed (for `check`, configuration problems too);
 * 2 usage error, or a configuration that another command cannot start with.
 * Commands are imported when they run: check, init and test pull in the TypeScript compiler
 * (~1.5 s and tens of MB), which `help`, `explain` and `serve`'s main thread never need.
 */
import { existsSync } from 'node:fs'
import { loadConfig } from '../config/load-config.js'
import { BootpolicyError, messageOf } from '../errors/bp-error.js'
import { BOOTPOLICY_VERSION } from '../plugins/load-plugins.js'
import { parseArgs } from './args.js'
import { certCommand } from './cert-command.js'
import { COMMAND_HELP, OVERVIEW } from './help-text.js'
import { configFlag, pluginCommandHelp, pluginCommandsOverview, runPluginCommand, unknownCommand } from './plugin-commands.js'

const KNOWN = [
  'config',
  'format',
  'mac',
  'uuid',
  'buildarch',
  'platform',
  'arch',
  'arch93',
  'serial',
  'manufacturer',
  'product',
  'asset',
  'hostname',
  'ip',
  'user-class',
  'username',
  'password',
  'param',
  'name',
  'out',
  'days',
  'force',
  'help',
  'version',
  'strict',
  'run',
  'verbose',
  'watch',
  'profile',
  'decision',
  'expires',
  'note',
  'server',
  'from',
  'dry-run',
]

export async function main(argv: readonly string[]): Promise<number> {
  quietOnClosedPipe()
  try {
    const first = argv[0]
    // Not ours: a plugin's command, with its own flags (unknown until its plugin is loaded).
    if (first !== undefined && /^[a-z]/.test(first) && !Object.hasOwn(COMMAND_HELP, first)) {
      return await runPluginCommand(argv, configFlag(argv) ?? defaultConfigFile())
    }
    const args = parseArgs(argv, KNOWN)
    if (args.command === '--version' || args.command === '-V' || args.flags.version) {
      process.stdout.write(`bootpolicy ${BOOTPOLICY_VERSION}\n`)
      return 0
    }
    const helpFor = args.command === 'help' ? (args.positional[0] ?? (args.flags.help ? 'help' : undefined)) : args.flags.help ? args.command : undefined
    const configFile = configFileOf(args.flags)
    if (args.command === '-h' || args.command === '--help' || (args.command === 'help' && helpFor === undefined)) {
      process.stdout.write(OVERVIEW + (await pluginCommandsOverview(configFile)))
      return 0
    }
    if (helpFor !== undefined) {
      const text = Object.hasOwn(COMMAND_HELP, helpFor) ? COMMAND_HELP[helpFor] : await pluginCommandHelp(helpFor, configFile)
      if (!text) throw unknownCommand(helpFor, [], '')
      process.stdout.write(text)
      return 0
    }
    const format = args.flags.format === 'json' ? 'json' : 'text'
    switch (args.command) {
      case 'init':
        return (await import('./init-command.js')).initCommand(args.positional[0] ?? '.')
      case 'serve':
        // Imported here: only serve needs fastify and the DHCP/TFTP services.
        return await (await import('./serve-command.js')).serveCommand(loadConfig({ file: configFile }), {
          strict: args.flags.strict !== undefined && args.flags.strict !== 'false' && args.flags.strict !== '0',
        })
      case 'check':
        return await (await import('./check-command.js')).checkCommand(configFile, format)
      case 'test':
        return await (await import('./test-command.js')).testCommand(configFile, args.positional[0], format, testFlags(args.flags))
      case 'explain':
        return await (await import('./explain-command.js')).explainCommand(loadConfig({ file: configFile }), args.flags, format)
      case 'cert':
        return await certCommand(args.flags)
      case 'intent':
        return await (await import('./intent-command.js')).intentCommand(loadConfig({ file: configFile }), args.positional, args.flags, format)
      case 'state':
        return await (await import('./state-command.js')).stateCommand(loadConfig({ file: configFile }), args.positional[0], {
          format,
          ...(typeof args.flags.from === 'string' ? { from: args.flags.from } : {}),
          dryRun: args.flags['dry-run'] !== undefined,
        })
      case 'machines':
      case 'timeline':
        return await (await import('./machines-command.js')).machinesCommand(loadConfig({ file: configFile }), args.command, args.positional, args.flags, format)
      default:
        throw unknownCommand(args.command, [], '')
    }
  } catch (err) {
    const code = err instanceof BootpolicyError ? `${err.code}: ` : ''
    process.stderr.write(`bootpolicy: ${code}${messageOf(err)}\n`)
    return 2
  }
}

function testFlags(flags: Record<string, string | true>): { run?: string; verbose?: boolean; watch?: boolean } {
  if (flags.run === true) throw new BootpolicyError('BP_ERR_CLI_USAGE', { details: '--run needs a pattern (a regular expression on "policy: case name")' })
  return { ...(flags.run !== undefined && { run: flags.run }), verbose: flags.verbose !== undefined, watch: flags.watch !== undefined }
}

/** --config, else $BOOTPOLICY_CONFIG (read by loadConfig), else ./bootpolicy.json (what `init` writes). */
function configFileOf(flags: Record<string, string | true>): string | undefined {
  if (typeof flags.config === 'string') return flags.config
  return defaultConfigFile()
}

function defaultConfigFile(): string | undefined {
  if (process.env.BOOTPOLICY_CONFIG) return undefined
  return existsSync('bootpolicy.json') ? 'bootpolicy.json' : undefined
}

/** `bootpolicy help | head -1`: once the reader is gone, drop further output instead of dying with an EPIPE stack trace. */
function quietOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err
      stream.write = (() => true) as typeof stream.write
    })
  }
}
