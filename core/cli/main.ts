/**
 * bootpolicy <command>: serve, check, test, explain, help.
 * Exit codes: 0 success; 1 a check or test failed (for `check`, configuration problems too);
 * 2 usage error, or a configuration that another command cannot start with.
 */
import { loadConfig } from '../config/load-config.js'
import { BootpolicyError, messageOf } from '../errors/bp-error.js'
import { parseArgs } from './args.js'
import { certCommand } from './cert-command.js'
import { checkCommand } from './check-command.js'
import { explainCommand } from './explain-command.js'
import { iscsiCommand } from './iscsi-command.js'
import { serveCommand } from './serve-command.js'
import { testCommand } from './test-command.js'

const HELP = `Usage: bootpolicy <command> [options]

Commands:
  serve                 run the HTTP (and, if configured, DHCP and TFTP) services
  check                 validate the config, policies and templates; exit 1 on problems
  test [dir]            run the policy tests (<policy>.test.ts) and print PASS/FAIL/ERROR
  explain --mac M ...   show what a client would get, and why (any /boot wire field as --name value)
  cert --name HOST      create a self-signed RSA certificate for HTTPS (--out DIR, default tls/; --days N; --force)
  iscsi list            the iscsi-cow plugin's per-user disks (target, sessions, device, overlay size)
  iscsi reset INSTANCE USER [--device] [--discard]
                        remove a user's target; --device also its COW device, --discard also its overlay
  help                  this text

Options:
  --config FILE         config file (JSON); default: the embedded default (or $BOOTPOLICY_CONFIG)
  --format text|json    output format for test, check and explain
`

const KNOWN = ['config', 'format', 'mac', 'uuid', 'buildarch', 'platform', 'arch', 'arch93', 'serial', 'manufacturer', 'product', 'asset', 'hostname', 'ip', 'user-class', 'username', 'password', 'param', 'device', 'discard', 'name', 'out', 'days', 'force']

export async function main(argv: readonly string[]): Promise<number> {
  try {
    const args = parseArgs(argv, KNOWN)
    const configFile = typeof args.flags.config === 'string' ? args.flags.config : undefined
    const format = args.flags.format === 'json' ? 'json' : 'text'
    switch (args.command) {
      case 'serve':
        return await serveCommand(loadConfig({ file: configFile }))
      case 'check':
        return await checkCommand(configFile, format)
      case 'test':
        return await testCommand(configFile, args.positional[0], format)
      case 'explain':
        return await explainCommand(loadConfig({ file: configFile }), args.flags, format)
      case 'cert':
        return await certCommand(args.flags)
      case 'iscsi':
        return await iscsiCommand(loadConfig({ file: configFile }), args.positional, args.flags, format)
      case 'help':
      case '--help':
        process.stdout.write(HELP)
        return 0
      default:
        throw new BootpolicyError('BP_ERR_CLI_USAGE', { details: `unknown command "${args.command}"; see bootpolicy help` })
    }
  } catch (err) {
    const code = err instanceof BootpolicyError ? `${err.code}: ` : ''
    process.stderr.write(`bootpolicy: ${code}${messageOf(err)}\n`)
    return 2
  }
}
