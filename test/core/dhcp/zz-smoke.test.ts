import t from 'tap'
import { createLan } from '../../helpers/netns.js'
import { startDhcpServer } from '../../helpers/dhcp-server.js'
import { udhcpc, dhclient } from '../../helpers/dhcp-clients.js'

t.test('smoke', async (t) => {
  const lan = await createLan(t, [{ name: 'srv', address: '10.77.0.1/24' }, { name: 'cli' }])
  const srv = await startDhcpServer(lan, 'srv', { mode: 'full', serverAddress: '10.77.0.1', pool: { start: '10.77.0.100', end: '10.77.0.150' }, router: '10.77.0.1', dnsServers: ['10.77.0.53'], domain: 'example.test', ntpServers: ['10.77.0.123'] })
  const r = await udhcpc(lan, 'cli', ['-O', '42']).catch(e => { console.log(JSON.stringify(srv.logs.slice(-5))); throw e })
  console.log(r)
  const d = await dhclient(lan, 'cli')
  console.log(d)
  console.log(await srv.leases())
  await srv.stop()
  console.log(srv.logs.map(l => l.msg))
})
