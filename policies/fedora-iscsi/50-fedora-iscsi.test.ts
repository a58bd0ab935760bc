import { cases } from 'bootpolicy/policy'

const jsmith = { name: 'jsmith', groups: [], source: 'auth-pam' }

export default cases([
  { name: 'no choice yet: the menu, Windows (local disk) after 5 s', request: { mac: '52:54:00:12:34:56' }, expect: { kind: 'menu', title: 'iPXE Boot Menu', default: 'lcl', timeoutMs: 5000 } },
  { name: 'Fedora 29 chosen, not logged in: login, keeping the choice', request: { instance: 'fc29' }, expect: { kind: 'login', params: { instance: 'fc29' } } },
  { name: 'an unknown release: the menu again', request: { instance: 'fc27' }, expect: { kind: 'menu' } },
  {
    name: "logged in: the user's fc29 disk, kernel from the ESP",
    request: { instance: 'fc29' },
    principal: jsmith,
    expect: { kind: 'iscsi-cow.disk', image: 'fc29', boot: { kernel: 'file:///linux/vmlinuz-4.19.5-300.fc29.x86_64', initrds: ['file:///linux/initramfs-4.19.5-300.fc29.x86_64.img'] } },
  },
  { name: 'Fedora 28 logged in', request: { instance: 'fc28' }, principal: jsmith, expect: { kind: 'iscsi-cow.disk', image: 'fc28' } },
])
