import { cases } from 'bootpolicy/policy'

export default cases([
  {
    name: 'every client gets the menu; SystemRescueCd with the German keymap, CPU tested by iPXE',
    request: { mac: '52:54:00:12:34:56', buildarch: 'i386', platform: 'pcbios' },
    expect: { kind: 'menu', default: 'disk', timeoutMs: 10000, items: [{ id: 'srcd', action: { kind: 'sysresccd.boot', bits: 'cpuid', keymap: 'de' } }, { id: 'shell' }, { id: 'disk' }] },
  },
  { name: 'UEFI clients too', request: { mac: '52:54:00:12:34:57', buildarch: 'x86_64', platform: 'efi' }, expect: { kind: 'menu', default: 'disk' } },
])
