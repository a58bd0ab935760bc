/**
 * bootpolicy iscsi list | reset <instance> <user> [--device] [--discard]
 *
 * Admin view of the iscsi-cow plugin's disks, with the plugin's own code: the module is resolved
 * like any plugin (plugins/ folder or npm) and must export `openIscsiCow`. `reset` is seed 000's
 * rmtgt: connections and target; `--device` also stops the COW device/export; `--discard` also
 * deletes the overlay, so the user gets a fresh copy of the base at the next login.
 * It takes the same per-disk lock as the server, so it is safe while the server runs.
 */
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Config } from '../config/config-types.js'
import { BootpolicyError } from '../errors/bp-error.js'
import { catalog, type ErrorCode } from '../errors/catalog.js'
import { createLogger } from '../log/logger.js'
import { resolvePluginModule, validatePluginOptions } from '../plugins/load-plugins.js'
import type { BootpolicyPlugin, PluginFactory } from '../plugins/types.js'

const PLUGIN = 'iscsi-cow'

interface DiskStatus {
  instance: string
  user: string
  iqn: string
  tid?: number
  sessions: number
  deviceUp: boolean
  overlayBytes?: number
  lastLoginAt?: string
}

interface Admin {
  list(): Promise<DiskStatus[]>
  reset(instance: string, user: string, opts: { device?: boolean; discard?: boolean }): Promise<{ target: boolean; device: boolean; overlay: boolean }>
}

type AdminModule = {
  default: PluginFactory
  openIscsiCow(options: unknown, dirs: { baseDir: string; stateDir: string; logger: ReturnType<typeof createLogger> }): Admin
}

export async function iscsiCommand(config: Config, positional: string[], flags: Record<string, string | true>, format: 'text' | 'json'): Promise<number> {
  try {
    return await run(config, positional, flags, format)
  } catch (err) {
    // The plugin's errors come from its own copy of the error module (`bootpolicy/plugin`): keep their code.
    const e = err as { code?: unknown; params?: Record<string, string | number | undefined> }
    if (!(err instanceof BootpolicyError) && typeof e.code === 'string' && e.code in catalog) {
      throw new BootpolicyError(e.code as ErrorCode, e.params ?? {}, { cause: err })
    }
    throw err
  }
}

async function run(config: Config, positional: string[], flags: Record<string, string | true>, format: 'text' | 'json'): Promise<number> {
  const [sub, ...rest] = positional
  // `--device fc29 alice` would parse as --device=fc29.
  if (typeof flags.device === 'string' || typeof flags.discard === 'string') {
    throw new BootpolicyError('BP_ERR_CLI_USAGE', { details: 'put --device and --discard after <instance> <user>' })
  }
  const entry = config.plugins.find((p) => p.name === PLUGIN && p.enabled !== false)
  if (!entry) throw new BootpolicyError('BP_ERR_CLI_USAGE', { details: `plugin ${PLUGIN} is not configured in plugins[]` })
  const mod = (await import(pathToFileURL(resolvePluginModule(entry, config.baseDir)).href)) as AdminModule
  if (typeof mod.openIscsiCow !== 'function') throw new BootpolicyError('BP_ERR_PLUGIN_LOAD', { plugin: PLUGIN, details: 'the module does not export openIscsiCow' })
  const options = structuredClone(entry.options ?? {})
  const plugin = (await mod.default(options)) as BootpolicyPlugin
  const problems = validatePluginOptions(plugin, options)
  if (problems.length) throw new BootpolicyError('BP_ERR_PLUGIN_OPTIONS', { plugin: PLUGIN, details: problems.join('; ') })
  const admin = mod.openIscsiCow(options, { baseDir: config.baseDir, stateDir: join(config.stateDir, 'plugins', PLUGIN), logger: createLogger('warn') })

  if (sub === 'list') {
    const disks = await admin.list()
    if (format === 'json') process.stdout.write(`${JSON.stringify(disks, null, 2)}\n`)
    else if (disks.length === 0) process.stdout.write('no iscsi-cow disks\n')
    else {
      process.stdout.write('INSTANCE  USER              TID  SESSIONS  DEVICE  OVERLAY     LAST LOGIN                IQN\n')
      for (const d of disks) {
        const size = d.overlayBytes === undefined ? 'missing' : `${(d.overlayBytes / 1048576).toFixed(1)} MiB`
        process.stdout.write(`${d.instance.padEnd(9)} ${d.user.padEnd(17)} ${String(d.tid ?? '-').padEnd(4)} ${String(d.sessions).padEnd(9)} ${(d.deviceUp ? 'up' : 'down').padEnd(7)} ${size.padEnd(11)} ${(d.lastLoginAt ?? '-').padEnd(25)} ${d.iqn}\n`)
      }
    }
    return 0
  }
  if (sub === 'reset') {
    const [instance, user] = rest
    if (!instance || !user || rest.length > 2) throw new BootpolicyError('BP_ERR_CLI_USAGE', { details: 'usage: bootpolicy iscsi reset <instance> <user> [--device] [--discard]' })
    const done = await admin.reset(instance, user, { device: flags.device !== undefined, discard: flags.discard !== undefined })
    if (format === 'json') process.stdout.write(`${JSON.stringify(done)}\n`)
    else {
      process.stdout.write(`${instance}/${user}: target ${done.target ? 'removed' : 'was not there'}`)
      if (flags.device !== undefined || flags.discard !== undefined) process.stdout.write(`, device ${done.device ? 'stopped' : 'was not running'}`)
      if (flags.discard !== undefined) process.stdout.write(`, overlay ${done.overlay ? 'deleted (a fresh copy at the next login)' : 'was not there'}`)
      process.stdout.write('\n')
    }
    return 0
  }
  throw new BootpolicyError('BP_ERR_CLI_USAGE', { details: 'usage: bootpolicy iscsi list | reset <instance> <user> [--device] [--discard]' })
}
