/**
 * Seed 002 (SmartOS via pfSense DHCP + iPXE): the boot menu built from the SmartOS builds the
 * smartos plugin found — the two newest, each with a noimport variant — then memtest, the iPXE
 * shell, reboot and the local disk. The newest build boots after 30 s.
 * Needs the smartos plugin; without builds (or without the plugin) it passes.
 */
import type { BootContext, Decision } from 'bootpolicy/policy'
import { smartosMenu } from 'bootpolicy/plugins/smartos'

export default function smartosBootMenu(ctx: BootContext): Decision | undefined {
  return smartosMenu(ctx, { memtest: '/files/memtest86/memtest86-5.01', memtestText: 'Memtest86+ 5.01' })
}
