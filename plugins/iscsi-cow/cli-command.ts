/**
 * `bootpolicy iscsi list | show <instance> <user> | reset <instance> <user> [--device] [--discard]`:
 * the admin view of the per-user disks, served by this plugin through the CLI's plugin commands.
 * `reset` is seed 000's rmtgt: connections and target; `--device` also stops the COW device/export;
 * `--discard` also deletes the overlay, so the user gets a fresh copy of the base at the next login.
 * Records and the per-disk lock come from the configured state backend (the files layout, or the
 * PostgreSQL database the replicas share), so reset is safe while any server runs.
 */
import { BootpolicyError, type PluginCommand, type PluginCommandContext } from 'bootpolicy/plugin'
import type { Provisioner } from './provisioner.js'

export function iscsiCommand(open: (context: PluginCommandContext) => Promise<Provisioner>): PluginCommand {
  return {
    summary: "the iscsi-cow plugin's per-user disks: list or show them, or reset one (target; --device: COW device; --discard: overlay)",
    usage: 'list | show INSTANCE USER | reset INSTANCE USER [--device] [--discard]',
    help: "reset removes a user's target; --device also stops its COW device; --discard also deletes its overlay (a fresh copy at the next login).\n",
    flags: ['device', 'discard'],
    async run(context) {
      const { positional, flags, format, write } = context
      const [sub, ...rest] = positional
      // `--device fc29 alice` would parse as --device=fc29.
      if (typeof flags.device === 'string' || typeof flags.discard === 'string') throw usage('put --device and --discard after <instance> <user>')
      if (sub === 'list' || sub === 'show') {
        const [instance, user] = rest
        if (sub === 'show' && (!instance || !user || rest.length > 2)) throw usage('usage: bootpolicy iscsi show <instance> <user>')
        const all = await (await open(context)).list()
        const disks = sub === 'show' ? all.filter((d) => d.instance === instance && d.user === user) : all
        if (sub === 'show' && disks.length === 0) {
          write(format === 'json' ? 'null\n' : `${instance}/${user}: no iscsi-cow disk\n`)
          return 1
        }
        if (format === 'json') write(`${JSON.stringify(sub === 'show' ? disks[0] : disks, null, 2)}\n`)
        else if (disks.length === 0) write('no iscsi-cow disks\n')
        else {
          write('INSTANCE  USER              TID  SESSIONS  DEVICE  OVERLAY     LAST LOGIN                IQN\n')
          for (const d of disks) {
            const size = d.overlayBytes === undefined ? 'missing' : `${(d.overlayBytes / 1048576).toFixed(1)} MiB`
            write(
              `${d.instance.padEnd(9)} ${d.user.padEnd(17)} ${String(d.tid ?? '-').padEnd(4)} ${String(d.sessions).padEnd(9)} ${(d.deviceUp ? 'up' : 'down').padEnd(7)} ${size.padEnd(11)} ${(d.lastLoginAt ?? '-').padEnd(25)} ${d.iqn}\n`,
            )
          }
        }
        return 0
      }
      if (sub === 'reset') {
        const [instance, user] = rest
        if (!instance || !user || rest.length > 2) throw usage('usage: bootpolicy iscsi reset <instance> <user> [--device] [--discard]')
        const device = flags.device !== undefined
        const discard = flags.discard !== undefined
        const done = await (await open(context)).reset(instance, user, { device, discard })
        if (format === 'json') write(`${JSON.stringify(done)}\n`)
        else {
          let line = `${instance}/${user}: target ${done.target ? 'removed' : 'was not there'}`
          if (device || discard) line += `, device ${done.device ? 'stopped' : 'was not running'}`
          if (discard) line += `, overlay ${done.overlay ? 'deleted (a fresh copy at the next login)' : 'was not there'}`
          write(`${line}\n`)
        }
        return 0
      }
      throw usage('usage: bootpolicy iscsi list | show <instance> <user> | reset <instance> <user> [--device] [--discard]')
    },
  }
}

function usage(details: string): BootpolicyError {
  return new BootpolicyError('BP_ERR_CLI_USAGE', { details })
}
