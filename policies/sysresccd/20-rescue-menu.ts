/**
 * Seed 001 (SystemRescueCd behind a dnsmasq proxyDHCP): a small menu whose rescue entry boots
 * SystemRescue from the sysresccd plugin's ISO tree with a German keymap. The legacy
 * SystemRescueCd of the seed has 32 and 64-bit kernels: iPXE picks by CPU (`cpuid`), since
 * undionly.kpxe reports i386 even on 64-bit machines. Local disk after 10 s.
 */
import { exit, item, menu, shell, type BootContext, type Decision } from 'bootpolicy/policy'
import { sysresccdItem } from 'bootpolicy/plugins/sysresccd'

export default function rescueMenu(_ctx: BootContext): Decision {
  return menu({
    title: 'Network boot',
    items: [
      sysresccdItem('srcd', 'SystemRescueCd', { bits: 'cpuid', keymap: 'de' }, { key: 'r' }),
      item('shell', 'iPXE shell', shell('Type exit to return to the menu'), { key: 's' }),
      item('disk', 'Boot from the local disk', exit(), { key: 'd' }),
    ],
    default: 'disk',
    timeoutMs: 10_000,
  })
}
