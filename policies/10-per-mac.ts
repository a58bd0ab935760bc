/**
 * Per-MAC dispatch (the dnsmasq + PHP setup of seed 003): a few known machines get their own
 * boot; every other machine is left to the next policy.
 */
import { chain, mac, sanboot, type BootContext, type Decision } from 'bootpolicy/policy'

const machines: Record<string, Decision> = {
  // A machine that still boots from a pxelinux menu.
  [mac('00:12:34:56:78:90')]: chain('/files/lpxelinux.0'),
  // A diskless machine booting its iSCSI disk (protocol 6 = TCP, port 3260, LUN 0 on that SAN).
  [mac('00:11:22:33:44:55')]: sanboot('iscsi:san.example.com:6:3260:0:iqn.2007-08.com.example.san:sometarget', {
    initiatorIqn: 'iqn.2007-08.com.example.initiator:initiator',
  }),
  // A lab machine that uses an external menu.
  [mac('00:77:21:ab:cd:ee')]: chain('http://boot.example.org/menu.ipxe'),
}

export default function perMac(ctx: BootContext): Decision | undefined {
  return ctx.mac ? machines[ctx.mac] : undefined
}
