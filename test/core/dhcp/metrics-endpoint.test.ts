/**
 * The DHCP service's counters reach the server's GET /metrics: a real server (HTTP plus proxy-mode
 * DHCP on loopback ports) is sent a malformed datagram and the endpoint counts it, with the
 * queue's gauges next to it. Loopback only: no namespace, no privileged port.
 */
import t from 'tap'
import dgram from 'node:dgram'
import { validateConfig } from '../../../core/config/load-config.js'
import { startServer } from '../../../core/server.js'

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4')
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r))
  const { port } = s.address()
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

t.test('GET /metrics carries the DHCP queue and drop counters', async (t) => {
  const dir = t.testdir({ policies: {} })
  const [server, pxe] = [await freeUdpPort(), await freeUdpPort()]
  const config = validateConfig(
    {
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'silent' },
      stateDir: dir,
      dhcp: { mode: 'proxy', serverAddress: '127.0.0.1', listenAddress: '127.0.0.1', ports: { server, pxe }, queue: { capacity: 8 }, boot: { httpPort: 8080 } },
    },
    dir,
  )
  const running = await startServer(config)
  t.teardown(() => running.close())
  const client = dgram.createSocket('udp4')
  await new Promise<void>((resolve, reject) => client.send(Buffer.from('not a DHCP packet'), server, '127.0.0.1', (err) => (err ? reject(err) : resolve())))
  client.close()
  const read = async (): Promise<string> => (await fetch(`http://127.0.0.1:${running.port}/metrics`)).text()
  let text = await read()
  for (let i = 0; i < 50 && !text.includes('bootpolicy_dhcp_packets_dropped_total{reason="malformed"} 1'); i++) {
    await new Promise((r) => setTimeout(r, 50))
    text = await read()
  }
  t.match(text, /^bootpolicy_dhcp_packets_received_total 1$/m)
  t.match(text, /^bootpolicy_dhcp_packets_dropped_total\{reason="malformed"\} 1$/m)
  t.match(text, /^bootpolicy_dhcp_packets_dropped_total\{reason="queue_full"\} 0$/m)
  t.match(text, /^bootpolicy_dhcp_queue_capacity 8$/m)
  t.match(text, /^bootpolicy_dhcp_queue_length_max 1$/m)
  t.match(text, /^bootpolicy_http_requests_total/m, 'next to the HTTP metrics')
})
