/**
 * Seeds 003 and 004: machines that boot through pxelinux get a configuration written for them —
 * the per-client APPEND parameters (serial console, installer priority) that seed 003 suggested
 * generating from PHP, now one table in a policy. The pxelinux-cfg plugin serves the file as
 * pxelinux.cfg/01-<mac> (and under the client's UUID and IP) to the pxelinux that iPXE chains.
 * Unknown machines are left to the next policy.
 */
import type { BootContext, Decision } from 'bootpolicy/policy'
import { pxelinuxChain, pxelinuxEntry } from 'bootpolicy/plugins/pxelinux-cfg'

interface Machine {
  readonly name: string
  /** Kernel console argument, e.g. `ttyS0,115200n8`; absent: the screen. */
  readonly console?: string
}

const machines: Readonly<Record<string, Machine>> = {
  '00:12:34:56:78:90': { name: 'build01', console: 'ttyS0,115200n8' },
  '10:60:4b:11:71:34': { name: 'photosmart' },
}

export default function perMacPxelinux(ctx: BootContext): Decision | undefined {
  const machine = ctx.mac ? machines[ctx.mac] : undefined
  if (!machine) return undefined
  const console = machine.console ? ` console=${machine.console}` : ''
  return pxelinuxChain({
    ui: 'menu.c32',
    menuTitle: `Network boot: ${machine.name}`,
    default: 'local',
    timeout: 100,
    entries: [
      pxelinuxEntry('local', 'chain.c32', { menuLabel: 'Boot from the local disk', append: 'hd0' }),
      pxelinuxEntry('install', 'debian-installer/amd64/linux', {
        menuLabel: 'Debian installer',
        initrd: 'debian-installer/amd64/initrd.gz',
        append: `priority=low hostname=${machine.name}${console}`,
      }),
    ],
  }) as unknown as Decision
}
