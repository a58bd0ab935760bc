import { cases } from 'bootpolicy/policy'

const alice = { name: 'alice', groups: ['lab'], source: 'auth-pam' }
const fc29Args = [
  'rw',
  'ip=dhcp',
  'rd.peerdns=0',
  'nameserver=192.0.2.91',
  'nameserver=192.0.2.92',
  'root=/dev/disk/by-path/ip-192.0.2.158:3260-iscsi-iqn.edu.example.server-01:fc29-alice-lun-1',
  'netroot=iscsi:192.0.2.158::::iqn.edu.example.server-01:fc29-alice',
  'console=tty0',
  'console=ttyS0,115200n8',
  'audit=0',
  'selinux=0',
  'quiet',
]

export default cases([
  { name: 'no choice yet: the menu, local disk after 5 s', request: { mac: '52:54:00:12:34:56' }, expect: { kind: 'menu', title: 'iPXE Boot Menu', default: 'lcl', timeoutMs: 5000 } },
  {
    name: 'the Fedora 29 item asks for a login and comes back with instance=fc29',
    request: {},
    expect: {
      kind: 'menu',
      items: [
        { id: 'lcl', action: { kind: 'exit' } },
        { id: 'fc29', action: { kind: 'login', params: { instance: 'fc29' } } },
        { id: 'fc28', action: { kind: 'login', params: { instance: 'fc28' } } },
      ],
    },
  },
  { name: 'instance without credentials: login', request: { instance: 'fc29' }, expect: { kind: 'login', params: { instance: 'fc29' } } },
  {
    name: 'authenticated: fc29 boots rw on the per-user target',
    request: { instance: 'fc29' },
    principal: alice,
    expect: {
      kind: 'boot',
      kernel: '/files/fc29/vmlinuz-4.19.5-300.fc29.x86_64',
      initrds: ['/files/fc29/initramfs-4.19.5-300.fc29.x86_64.img'],
      args: fc29Args,
    },
  },
  {
    name: 'authenticated: fc28 boots its own kernel',
    request: { instance: 'fc28' },
    principal: { ...alice, name: 'bob' },
    expect: { kind: 'boot', kernel: '/files/fc28/vmlinuz-4.19.3-200.fc28.x86_64' },
  },
  {
    name: 'a refused login: the menu again with the reason',
    request: { instance: 'fc29', username: 'alice', password: 'x' },
    expect: { kind: 'menu', default: 'lcl', items: [{ gap: 'Login failed: not verified' }, { gap: '' }, { id: 'lcl' }, { id: 'fc29' }, { id: 'fc28' }] },
  },
  {
    name: 'an instance that is not offered',
    request: { instance: 'fc30' },
    principal: alice,
    expect: { kind: 'menu', items: [{ gap: 'Unknown instance, choose again' }, { gap: '' }, { id: 'lcl' }, { id: 'fc29' }, { id: 'fc28' }] },
  },
  { name: 'an instance name outside ^fc\\d{2}$', request: { instance: 'fc29-x' }, principal: alice, expect: { kind: 'menu' } },
  { name: 'a prototype name is not an instance', request: { instance: 'constructor' }, principal: alice, expect: { kind: 'menu' } },
  {
    name: 'a user name that cannot be part of an IQN',
    request: { instance: 'fc29' },
    principal: { ...alice, name: 'Alice_Admin@EXAMPLE.ORG' },
    expect: { kind: 'menu', items: [{ gap: 'This user name cannot name an iSCSI target' }, { gap: '' }, { id: 'lcl' }, { id: 'fc29' }, { id: 'fc28' }] },
  },
])
