/**
 * Architecture dispatch (seed 004's ISC dhcpd if/else chain, done at /boot): 64-bit ARM UEFI
 * machines boot an arm64 kernel, legacy BIOS machines get pxelinux; x86_64 UEFI is left to the
 * menu policy.
 */
import { boot, chain, type BootContext, type Decision } from 'bootpolicy/policy'

export default function archDispatch(ctx: BootContext): Decision | undefined {
  switch (ctx.arch) {
    case 'arm64-efi':
      return boot('/files/arm64/vmlinuz', { initrds: ['/files/arm64/initrd.img'], args: ['console=ttyAMA0'] })
    case 'i386-pcbios':
    case 'x86_64-pcbios':
      return chain('/files/lpxelinux.0')
    default:
      return undefined
  }
}
