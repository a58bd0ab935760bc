/** Minimal `--name value` / `--name=value` / `--flag` parsing for the CLI. */
import { BootpolicyError } from '../errors/bp-error.js'
import { didYouMean } from '../text/did-you-mean.js'

export interface ParsedArgs {
  readonly command: string
  readonly positional: string[]
  readonly flags: Record<string, string | true>
}

export function parseArgs(argv: readonly string[], known: readonly string[]): ParsedArgs {
  const [command = 'help', ...rest] = argv
  const positional: string[] = []
  const flags: Record<string, string | true> = {}
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!
    if (!arg.startsWith('--')) {
      positional.push(arg)
      continue
    }
    const eq = arg.indexOf('=')
    const name = arg.slice(2, eq === -1 ? undefined : eq)
    if (!known.includes(name)) throw new BootpolicyError('BP_ERR_CLI_USAGE', { details: `unknown option --${name}${didYouMean(name, known, '--')} (see bootpolicy help)` })
    if (eq !== -1) flags[name] = arg.slice(eq + 1)
    else if (rest[i + 1] !== undefined && !rest[i + 1]!.startsWith('--')) flags[name] = rest[++i]!
    else flags[name] = true
  }
  return { command, positional, flags }
}
