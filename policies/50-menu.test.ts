import { cases } from 'bootpolicy/policy'

export default cases([
  { name: 'everyone gets the menu, local disk after 5 s', request: { mac: '52:54:00:12:34:56' }, expect: { kind: 'menu', default: 'lcl', timeoutMs: 5000 } },
  { name: 'even a client that sent nothing', request: {}, expect: { kind: 'menu', title: 'iPXE Boot Menu' } },
])
