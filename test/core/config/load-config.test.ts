import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig, PACKAGE_ROOT } from '../../../core/config/load-config.js'
import { tempPolicies } from '../../helpers/policy-dir.js'

t.test('the embedded default serves the example policies on 8080 and exits to disk', async (t) => {
  const c = loadConfig({ env: {} })
  t.equal(c.http.port, 8080)
  t.equal(c.http.host, '0.0.0.0', 'every IPv4 address, as the README says')
  t.equal(c.policies.dir, join(PACKAGE_ROOT, 'policies'))
  t.same(c.default, { kind: 'exit' })
  t.equal(c.policies.timeoutMs, 50)
  t.equal(c.policies.memoryMb, 32)
  t.equal(c.dhcp.mode, 'off')
  t.equal(c.tftp.enabled, false)
})

t.test('a file, then environment overrides; relative paths resolve against the file', async (t) => {
  const dir = tempPolicies()
  t.teardown(() => dir.remove())
  const file = join(dir.dir, 'site.json')
  writeFileSync(file, JSON.stringify({ http: { port: 9000 }, policies: { dir: 'policies' }, files: { dir: 'files' } }))
  const c = loadConfig({ file, env: { BOOTPOLICY__http__port: '9100', BOOTPOLICY__policies__onError: 'next', BOOTPOLICY__log__level: 'debug' } })
  t.equal(c.http.port, 9100, 'env wins over the file, parsed as JSON')
  t.equal(c.policies.onError, 'next', 'a bare string')
  t.equal(c.policies.dir, join(dir.dir, 'policies'))
  t.equal(c.files.dir, join(dir.dir, 'files'))
  t.equal(loadConfig({ env: { BOOTPOLICY_CONFIG: file } }).http.port, 9000, 'BOOTPOLICY_CONFIG names the file')
})

t.test('every violation is reported at once, with its path', async (t) => {
  const dir = tempPolicies()
  t.teardown(() => dir.remove())
  const file = join(dir.dir, 'bad.json')
  writeFileSync(file, JSON.stringify({ http: { port: 70000 }, policies: { memoryMb: 1 }, dhcp: { mode: 'maybe' }, nope: 1 }))
  const err = (() => {
    try {
      loadConfig({ file, env: {} })
    } catch (e) {
      return e as Error & { code: string }
    }
  })()
  t.equal(err?.code, 'BP_ERR_CONFIG_INVALID')
  for (const part of ['/http/port', '/policies/memoryMb', '/dhcp/mode', '(root): must NOT have additional properties "nope"']) t.match(err!.message, part)
  writeFileSync(file, '{ not json')
  t.throws(() => loadConfig({ file, env: {} }), { code: 'BP_ERR_CONFIG_READ' })
})

t.test("DHCP hands out this server's bootstrap URL: port, path and scheme follow http", async (t) => {
  const { dhcpConfigFor } = await import('../../../core/server.js')
  const plain = loadConfig({ env: {}, overrides: { dhcp: { mode: 'proxy', serverAddress: '10.0.0.1' } } })
  t.equal(dhcpConfigFor(plain).boot?.httpPort, 8080, 'the HTTP port, not 80')
  t.equal(dhcpConfigFor(plain).boot?.ipxeBootstrapUrl, undefined, 'the DHCP default URL http://10.0.0.1:8080/boot.ipxe applies')
  const moved = loadConfig({ env: {}, overrides: { http: { port: 443, bootPath: '/pxe/boot' }, dhcp: { mode: 'proxy', serverAddress: '10.0.0.1' } } })
  t.equal(dhcpConfigFor(moved).boot?.ipxeBootstrapUrl, 'http://10.0.0.1:443/pxe/boot.ipxe')
  const explicit = loadConfig({ env: {}, overrides: { dhcp: { mode: 'proxy', serverAddress: '10.0.0.1', boot: { httpPort: 80 } } } })
  t.equal(dhcpConfigFor(explicit).boot?.httpPort, 80, 'an explicit port wins')
})
