/**
 * Service lifecycle on loopback (no namespace needed): off mode, bind conflicts, state errors.
 * The wire behaviour is covered by full-mode, proxy-mode, pxe-boot and fuzz tests.
 */
import t from 'tap'
import dgram from 'node:dgram'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { createDhcpService } from '../../../core/dhcp/dhcp-service.js'

function logger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write(chunk, _e, cb) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>)
      cb()
    },
  })
  return { logger: pino({ level: 'debug' }, stream), lines }
}

async function busyPort(): Promise<{ port: number; close: () => void }> {
  const s = dgram.createSocket('udp4')
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r))
  return { port: s.address().port, close: () => s.close() }
}

t.test('off mode binds nothing and has no leases', async (t) => {
  const { logger: log, lines } = logger()
  const service = createDhcpService({}, { logger: log, stateDir: t.testdir() })
  await service.start()
  t.same(await service.leases(), [])
  await service.close()
  t.match(lines[0], { service: 'dhcp', mode: 'off', msg: 'dhcp service disabled' })
  await t.rejects(service.start(), /already started/)
})

t.test('an invalid config is refused when the service is created', async (t) => {
  t.throws(() => createDhcpService({ mode: 'full' }, { logger: logger().logger, stateDir: t.testdir() }), { code: 'BP_ERR_CONFIG_INVALID' })
})

t.test('a port in use fails the start with BP_ERR_DHCP_BIND', async (t) => {
  const busy = await busyPort()
  t.teardown(busy.close)
  const service = createDhcpService(
    { mode: 'proxy', listenAddress: '127.0.0.1', serverAddress: '127.0.0.1', ports: { server: busy.port, pxe: busy.port + 1 } },
    { logger: logger().logger, stateDir: t.testdir() },
  )
  await t.rejects(service.start(), { code: 'BP_ERR_DHCP_BIND', message: `DHCP cannot bind 127.0.0.1:${busy.port}` })
})

t.test('proxy mode binds, answers nothing malformed, closes', async (t) => {
  const free = await busyPort()
  free.close()
  const { logger: log, lines } = logger()
  const service = createDhcpService(
    { mode: 'proxy', listenAddress: '127.0.0.1', serverAddress: '127.0.0.1', ports: { server: free.port, pxe: free.port === 65535 ? 65534 : free.port + 1 } },
    { logger: log, stateDir: t.testdir() },
  )
  await service.start()
  const client = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => client.send(Buffer.from('not dhcp'), free.port, '127.0.0.1', () => resolve()))
  await new Promise((r) => setTimeout(r, 100))
  client.close()
  await service.close()
  t.match(
    lines.find((l) => l.msg === 'dhcp malformed packet dropped'),
    { err: { code: 'BP_ERR_DHCP_MALFORMED' }, from: '127.0.0.1' },
  )
  t.match(lines.at(-1), { msg: 'dhcp service closed', receivedTotal: 1, malformedTotal: 1 })
})

t.test('a corrupt lease file or unusable state dir fails the start with BP_ERR_DHCP_STATE', async (t) => {
  const config = { mode: 'full', serverAddress: '127.0.0.1', listenAddress: '127.0.0.1', ports: { server: 1 }, pool: { start: '127.0.0.10', end: '127.0.0.20' } } as const
  const corrupt = createDhcpService(config, { logger: logger().logger, stateDir: t.testdir({ 'dhcp-leases.json': '{not json' }) })
  await t.rejects(corrupt.start(), { code: 'BP_ERR_DHCP_STATE', message: /dhcp-leases.json cannot be read/ })
  const noDir = createDhcpService(config, { logger: logger().logger, stateDir: `${t.testdir({ 'a-file': 'x' })}/a-file/state` })
  await t.rejects(noDir.start(), { code: 'BP_ERR_DHCP_STATE', message: /cannot be created/ })
})
