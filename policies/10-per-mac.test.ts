import { cases } from 'bootpolicy/policy'

export default cases([
  { name: 'pxelinux machine chains pxelinux', request: { mac: '00:12:34:56:78:90' }, expect: { kind: 'chain', url: '/files/lpxelinux.0' } },
  { name: 'MAC in upper case with hyphens matches too', request: { mac: '00-12-34-56-78-90' }, expect: { kind: 'chain' } },
  {
    name: 'diskless machine sanboots its iSCSI disk',
    request: { mac: '00:11:22:33:44:55' },
    expect: { kind: 'sanboot', uri: 'iscsi:san.example.com:6:3260:0:iqn.2007-08.com.example.san:sometarget' },
  },
  { name: 'lab machine chains the external menu', request: { mac: '00:77:21:ab:cd:ee' }, expect: { kind: 'chain', url: 'http://boot.example.org/menu.ipxe' } },
  { name: 'unknown machine is left to the next policy', request: { mac: '52:54:00:00:00:99' }, expect: null },
  { name: 'no MAC at all is left to the next policy', request: {}, expect: null },
])
