import { cases } from 'bootpolicy/policy'

export default cases([
  {
    name: 'build01 gets its pxelinux menu with the serial console',
    request: { mac: '00:12:34:56:78:90' },
    expect: {
      kind: 'pxelinux-cfg.chain',
      config: {
        default: 'local',
        timeout: 100,
        entries: [
          { label: 'local', kernel: 'chain.c32' },
          { label: 'install', append: 'priority=low hostname=build01 console=ttyS0,115200n8' },
        ],
      },
    },
  },
  { name: 'the MAC in upper case with hyphens matches too', request: { mac: '10-60-4B-11-71-34' }, expect: { kind: 'pxelinux-cfg.chain' } },
  {
    name: 'a machine without a console setting boots on the screen',
    request: { mac: '10:60:4b:11:71:34' },
    expect: { config: { entries: [{ label: 'local' }, { append: 'priority=low hostname=photosmart' }] } },
  },
  { name: 'unknown machines are left to the next policy', request: { mac: '52:54:00:00:00:99' }, expect: null },
  { name: 'no MAC: left to the next policy', request: {}, expect: null },
])
