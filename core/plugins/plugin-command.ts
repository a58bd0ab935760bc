/**
 * A CLI subcommand a plugin contributes: `bootpolicy <name> …`. The core dispatches every command
 * it does not know to the configured plugins' commands, after loading them offline (factory and
 * options checked, setup not run), so a command works beside a running server and touches only
 * what its own code touches.
 */
import type { Logger } from 'pino'
import type { StateBackend } from '../state/state-backend.js'

export interface PluginCommandContext {
  /** Arguments after the command name that are not flags. */
  readonly positional: readonly string[]
  /** `--name value`, `--name=value` or `--name` (true); only `config`, `format`, `help` and the command's `flags`. */
  readonly flags: Readonly<Record<string, string | true>>
  readonly format: 'text' | 'json'
  /** The config file's folder. */
  readonly baseDir: string
  /** This plugin's state directory (`<stateDir>/plugins/<plugin name>`), the one its setup gets. */
  readonly stateDir: string
  /** Level warn, to stderr. */
  readonly logger: Logger
  /** Standard output. */
  write(text: string): void
  /**
   * The configured state backend (files, or the PostgreSQL database replicas share), opened on
   * the first call and closed by core after the command: read and lock through it, and an
   * operator on any replica sees the same records the servers do.
   */
  openState(): Promise<StateBackend>
}

export interface PluginCommand {
  /** One line for `bootpolicy help` (e.g. "list or reset the per-user disks"). */
  readonly summary: string
  /** The argument synopsis after the command name, e.g. `list | reset INSTANCE USER [--device]`. */
  readonly usage: string
  /** More text for `bootpolicy <name> --help`. */
  readonly help?: string
  /** The command's own flags besides --config, --format and --help (names without `--`). */
  readonly flags?: readonly string[]
  /**
   * Runs the command; resolves to the exit status (0 success, 1 failure). A thrown
   * BootpolicyError is printed as `bootpolicy: CODE: message` with exit status 2.
   */
  run(context: PluginCommandContext): Promise<number>
}
