/** An interface without carrier (an empty bridge) still counts: the DHCP service can start before its link. */
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { prefixToMask } from '../../../core/dhcp/interface-addresses.js'
import { requireTool } from '../../helpers/netns.js'

t.test('prefix lengths become netmasks', async (t) => {
  t.equal(prefixToMask(24), '255.255.255.0')
  t.equal(prefixToMask(20), '255.255.240.0')
  t.equal(prefixToMask(32), '255.255.255.255')
  t.equal(prefixToMask(0), '0.0.0.0')
})

t.test('a bridge whose only port has no link (NO-CARRIER) is listed with its address', async (t) => {
  requireTool('ip')
  const ns = `bp-ifa-${randomBytes(3).toString('hex')}`
  execFileSync('ip', ['netns', 'add', ns])
  t.teardown(() => execFileSync('ip', ['netns', 'delete', ns]))
  const inNs = (...args: string[]) => execFileSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8' })
  inNs('ip', 'link', 'add', 'brx', 'type', 'bridge')
  inNs('ip', 'addr', 'add', '10.77.0.1/24', 'dev', 'brx')
  // A port whose peer is down: the bridge has no carrier, as a boot LAN before the first client.
  inNs('ip', 'link', 'add', 'vp0', 'type', 'veth', 'peer', 'name', 'vp1')
  inNs('ip', 'link', 'set', 'vp0', 'master', 'brx')
  inNs('ip', 'link', 'set', 'vp0', 'up')
  inNs('ip', 'link', 'set', 'brx', 'up')
  t.match(inNs('ip', 'link', 'show', 'brx'), /NO-CARRIER/)
  const nodeOnly = inNs(process.execPath, '--input-type=module', '-e', `import { networkInterfaces } from 'node:os'; console.log(JSON.stringify(Object.keys(networkInterfaces())))`)
  t.notOk(JSON.parse(nodeOnly).includes('brx'), 'os.networkInterfaces() alone misses it: why the fallback exists')
  const script = `import { ipv4Addresses } from './core/dhcp/interface-addresses.ts'; console.log(JSON.stringify(ipv4Addresses()))`
  const out = inNs(process.execPath, '--import', 'tsx', '--input-type=module', '-e', script)
  const list = JSON.parse(out) as { interface: string; address: string; netmask: string }[]
  t.ok(
    list.some((a) => a.interface === 'brx' && a.address === '10.77.0.1' && a.netmask === '255.255.255.0'),
    JSON.stringify(list),
  )
})
