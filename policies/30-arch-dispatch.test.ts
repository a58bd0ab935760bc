import { cases } from 'bootpolicy/policy'

export default cases([
  { name: 'arm64 UEFI boots the arm64 kernel', request: { buildarch: 'arm64', platform: 'efi' }, expect: { kind: 'boot', kernel: '/files/arm64/vmlinuz' } },
  { name: 'DHCP option 93 = 11 is arm64 UEFI too', request: { arch93: '11' }, expect: { kind: 'boot', kernel: '/files/arm64/vmlinuz' } },
  { name: 'BIOS (undionly.kpxe reports i386) chains pxelinux', request: { buildarch: 'i386', platform: 'pcbios' }, expect: { kind: 'chain', url: '/files/lpxelinux.0' } },
  { name: 'x86_64 UEFI is left to the menu', request: { buildarch: 'x86_64', platform: 'efi' }, expect: null },
  { name: 'unknown arch is left to the menu', request: {}, expect: null },
])
