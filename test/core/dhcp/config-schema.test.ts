import t from 'tap'
import { DEFAULT_ARCH_MAP, dhcpConfigSchema } from '../../../core/dhcp/config-schema.js'
import { resolveDhcpConfig } from '../../../core/dhcp/resolve-config.js'

t.test('defaults fill an empty config: DHCP is off', async (t) => {
  t.same(resolveDhcpConfig({}), {
    mode: 'off',
    listenAddress: '0.0.0.0',
    ports: { server: 67, client: 68, pxe: 4011 },
    broadcastAddress: '255.255.255.255',
    boot: { archMap: DEFAULT_ARCH_MAP, vendorClassRules: [], httpPort: 80, ipxeNoPxeDhcp: true, hookTimeoutMs: 500 },
    subnetMask: '255.255.255.0',
    dnsServers: [],
    ntpServers: [],
    leaseSeconds: 43200,
    offers: { max: 64, holdSeconds: 5 },
    queue: { capacity: 256, inFlight: 256 },
    declineSeconds: 600,
    declineWindowSeconds: 30,
    reservations: [],
    stateFile: 'dhcp-leases.json',
  })
  t.equal(resolveDhcpConfig(undefined).mode, 'off')
})

t.test('a configured archMap adds to the defaults', async (t) => {
  const c = resolveDhcpConfig({ boot: { archMap: { 7: 'efi-x64/shim.efi', 11: 'efi-a64/grubaa64.efi' } } })
  t.same(c.boot.archMap, { ...DEFAULT_ARCH_MAP, 7: 'efi-x64/shim.efi', 11: 'efi-a64/grubaa64.efi' })
})

t.test('invalid configs are rejected with every problem listed', async (t) => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['full without pool', { mode: 'full' }, /must have required property 'pool'/],
    ['bad mode', { mode: 'on' }, /dhcp\/mode must be equal to one of the allowed values/],
    ['bad address', { serverAddress: '10.0.0.300' }, /dhcp\/serverAddress must match pattern/],
    ['unknown key', { pool: { start: '10.0.0.1', end: '10.0.0.2' }, leaseTime: 5 }, /must NOT have additional properties/],
    ['reversed pool', { mode: 'full', pool: { start: '10.0.0.9', end: '10.0.0.1' } }, /pool\/end is below/],
    ['pool across subnets', { mode: 'full', pool: { start: '10.0.0.9', end: '10.0.1.1' } }, /not in one subnet/],
    ['huge pool', { mode: 'full', subnetMask: '255.0.0.0', pool: { start: '10.0.0.1', end: '10.2.0.0' } }, /more than 65536/],
    ['bad mask', { subnetMask: '255.0.255.0' }, /not a contiguous netmask/],
    ['bad mac', { reservations: [{ mac: 'zz:zz:zz:zz:zz:zz', ip: '10.0.0.5' }] }, /reservations\/0\/mac is not a MAC/],
    [
      'twice',
      {
        reservations: [
          { mac: '52:54:00:00:00:01', ip: '10.0.0.5' },
          { mac: '52-54-00-00-00-01', ip: '10.0.0.5' },
        ],
      },
      /reserved twice.*reserved twice/,
    ],
    [
      'reservation outside',
      { mode: 'full', pool: { start: '10.0.0.9', end: '10.0.0.20' }, reservations: [{ mac: '52:54:00:00:00:01', ip: '10.9.0.5' }] },
      /reservations\/0\/ip is not in the pool subnet/,
    ],
  ]
  for (const [name, input, message] of cases) {
    t.throws(() => resolveDhcpConfig(input as never), { code: 'BP_ERR_CONFIG_INVALID', message }, name)
  }
})

t.test('the schema is a draft-07 object the core config can embed', async (t) => {
  t.equal(dhcpConfigSchema.$schema, 'http://json-schema.org/draft-07/schema#')
  t.equal(dhcpConfigSchema.type, 'object')
  t.same(Object.keys(dhcpConfigSchema.properties).sort(), [
    'boot',
    'broadcastAddress',
    'declineSeconds',
    'declineWindowSeconds',
    'dnsServers',
    'domain',
    'interface',
    'leaseSeconds',
    'listenAddress',
    'mode',
    'ntpServers',
    'offers',
    'pool',
    'ports',
    'queue',
    'reservations',
    'router',
    'serverAddress',
    'stateFile',
    'subnetMask',
  ])
})
