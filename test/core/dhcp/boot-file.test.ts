import t from 'tap'
import { pino } from 'pino'
import { Writable } from 'node:stream'
import { chooseBoot, defaultBoot, type DecideBoot } from '../../../core/dhcp/boot-file.js'
import { clientFacts, type DhcpClientFacts } from '../../../core/dhcp/client-facts.js'
import { resolveDhcpConfig } from '../../../core/dhcp/resolve-config.js'
import { decode } from '../../../core/dhcp/packet-codec.js'
import { readUserClasses } from '../../../core/dhcp/options.js'
import { clientPacket, IPXE_OPTIONS, pxeDiscover, u16 } from '../../helpers/dhcp-packets.js'
import { encode } from '../../../core/dhcp/packet-codec.js'

const MAC = '52:54:00:c0:ff:ee'
const SERVER = '10.9.0.1'
const config = resolveDhcpConfig({
  mode: 'full',
  pool: { start: '10.9.0.100', end: '10.9.0.200' },
  boot: {
    httpPort: 8080,
    vendorClassRules: [
      { match: 'exact', value: 'U-Boot.armv8', bootfile: 'rpi3/boot.conf', nextServer: '192.168.2.108' },
      { match: 'prefix', value: 'U-Boot.armv7', bootfile: 'rpi2/boot.conf' },
    ],
  },
})

function facts(bytes: Buffer): DhcpClientFacts {
  return clientFacts(decode(bytes))!
}

function logCapture(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>)
      cb()
    },
  })
  return { log: pino({ level: 'debug' }, stream), lines }
}

t.test('client facts of an iPXE DISCOVER, normalized', async (t) => {
  t.same(facts(pxeDiscover(MAC, 7, IPXE_OPTIONS)), {
    mac: MAC,
    messageType: 'discover',
    arch: 'x86_64-efi',
    clientArchCode: 7,
    vendorClass: 'PXEClient:Arch:00007:UNDI:002001',
    userClass: 'iPXE',
    isIpxe: true,
    isPxe: true,
    isHttpBoot: false,
    relayed: false,
    // option 97 in SMBIOS byte order → the form iPXE shows as ${uuid}
    uuid: '00112233-4455-6677-8899-aabbccddeeff',
  })
})

t.test('user class: raw iPXE bytes and RFC 3004 length-prefixed lists', async (t) => {
  const uc = (value: Buffer): string[] => readUserClasses(new Map([[77, value]]))
  t.same(uc(Buffer.from('iPXE')), ['iPXE'])
  t.same(uc(Buffer.from([4, ...Buffer.from('iPXE')])), ['iPXE'])
  t.same(uc(Buffer.from([4, ...Buffer.from('iPXE'), 3, ...Buffer.from('abc')])), ['iPXE', 'abc'])
  t.same(uc(Buffer.from([9, 1, 2])), ['\t\x01\x02'], 'prefix that overruns → raw')
  const rfc = facts(encode(clientPacket({ mac: MAC, options: [[77, Buffer.from([4, ...Buffer.from('iPXE')])]] })))
  t.equal(rfc.isIpxe, true, 'RFC 3004 "iPXE" marks iPXE')
  const relayed = facts(encode(clientPacket({ mac: MAC, giaddr: '10.2.0.1', options: [[12, 'node7\0']] })))
  t.same([relayed.relayed, relayed.giaddr, relayed.hostname], [true, '10.2.0.1', 'node7'])
})

t.test('default boot file by option 93 (PXE ROMs)', async (t) => {
  const expected: Record<number, string> = {
    0: 'undionly.kpxe',
    6: 'ipxe-i386.efi',
    7: 'ipxe.efi',
    9: 'ipxe.efi',
    10: 'snp-arm32.efi',
    11: 'snp-arm64.efi',
  }
  for (const [code, file] of Object.entries(expected)) {
    const choice = defaultBoot(facts(pxeDiscover(MAC, Number(code))), config, SERVER)
    t.same({ ...choice, extraOptions: undefined }, { bootfile: file, nextServer: SERVER, httpClient: false, reason: 'arch', extraOptions: undefined }, `arch ${code}`)
  }
  const unknown = defaultBoot(facts(pxeDiscover(MAC, 99)), config, SERVER)
  t.equal(unknown.bootfile, undefined, 'unknown arch: no boot file')
  const plain = defaultBoot(facts(encode(clientPacket({ mac: MAC, options: [[60, 'udhcp 1.35.0']] }))), config, SERVER)
  t.same([plain.bootfile, plain.reason], [undefined, 'not-a-boot-client'])
})

t.test('iPXE gets the bootstrap URL (loop breaking), before any other rule', async (t) => {
  for (const arch of [0, 7, 11]) {
    t.equal(defaultBoot(facts(pxeDiscover(MAC, arch, IPXE_OPTIONS)), config, SERVER).bootfile, 'http://10.9.0.1:8080/boot.ipxe')
  }
  const custom = resolveDhcpConfig({ ...config, boot: { ...config.boot, ipxeBootstrapUrl: 'http://boot.example/x.ipxe' } })
  t.equal(defaultBoot(facts(pxeDiscover(MAC, 0, [[175, Buffer.from([0xb1, 1, 1])]])), custom, SERVER).bootfile, 'http://boot.example/x.ipxe')
})

t.test('vendor-class rules (seed 004: U-Boot on Raspberry Pi)', async (t) => {
  const armv8 = defaultBoot(
    facts(
      encode(
        clientPacket({
          mac: MAC,
          options: [
            [60, 'U-Boot.armv8'],
            [93, u16(22)],
          ],
        }),
      ),
    ),
    config,
    SERVER,
  )
  t.same([armv8.bootfile, armv8.nextServer, armv8.reason], ['rpi3/boot.conf', '192.168.2.108', 'vendor-class'])
  const armv7 = defaultBoot(facts(encode(clientPacket({ mac: MAC, options: [[60, 'U-Boot.armv7.2023']] }))), config, SERVER)
  t.same([armv7.bootfile, armv7.nextServer], ['rpi2/boot.conf', SERVER])
  const notExact = defaultBoot(facts(encode(clientPacket({ mac: MAC, options: [[60, 'U-Boot.armv8x']] }))), config, SERVER)
  t.equal(notExact.bootfile, undefined, 'exact means exact')
})

t.test('UEFI HTTP boot gets a URL and HTTPClient', async (t) => {
  const http = facts(
    encode(
      clientPacket({
        mac: MAC,
        options: [
          [60, 'HTTPClient:Arch:00016:UNDI:003001'],
          [93, u16(16)],
        ],
      }),
    ),
  )
  t.same(
    { ...defaultBoot(http, config, SERVER), extraOptions: undefined },
    {
      bootfile: 'http://10.9.0.1:8080/files/ipxe.efi',
      nextServer: SERVER,
      httpClient: true,
      reason: 'http-boot',
      extraOptions: undefined,
    },
  )
})

t.test('httpBootUrlBase moves the EFI binary, never the iPXE bootstrap it chains to', async (t) => {
  // Found with OVMF's HTTP boot (test/e2e/bootpolicy-uefi-http-boot.test.ts): the binary under
  // /files/, and the iPXE it became was sent to /files/boot.ipxe (404).
  const moved = resolveDhcpConfig({
    mode: 'full',
    pool: { start: '10.9.0.100', end: '10.9.0.200' },
    boot: { httpPort: 8080, httpBootUrlBase: 'http://10.9.0.1:8080/files/', archMap: { 16: 'snponly.efi' } },
  })
  const http = facts(
    encode(
      clientPacket({
        mac: MAC,
        options: [
          [60, 'HTTPClient:Arch:00016:UNDI:003000'],
          [93, u16(16)],
        ],
      }),
    ),
  )
  t.equal(defaultBoot(http, moved, SERVER).bootfile, 'http://10.9.0.1:8080/files/snponly.efi')
  t.equal(defaultBoot(facts(pxeDiscover(MAC, 7, IPXE_OPTIONS)), moved, SERVER).bootfile, 'http://10.9.0.1:8080/boot.ipxe')
  const absolute = resolveDhcpConfig({
    mode: 'full',
    pool: { start: '10.9.0.100', end: '10.9.0.200' },
    boot: { httpBootUrlBase: 'http://cdn.example/x/', archMap: { 16: 'https://other.example/a.efi' } },
  })
  t.equal(defaultBoot(http, absolute, SERVER).bootfile, 'https://other.example/a.efi', 'an absolute arch-map URL is kept')
  t.equal(defaultBoot(facts(pxeDiscover(MAC, 0, IPXE_OPTIONS)), absolute, SERVER).bootfile, `http://${SERVER}:80/boot.ipxe`, 'the default httpPort')
})

t.test('decideBoot overrides, and its failures fall back to the defaults', async (t) => {
  const f = facts(pxeDiscover(MAC, 7))
  const { log, lines } = logCapture()
  const run = (hook: DecideBoot) => chooseBoot(f, config, SERVER, hook, log)

  const seen: DhcpClientFacts[] = []
  const over = await run(async (facts) => {
    seen.push(facts)
    return { bootfile: 'special.efi', nextServer: '10.9.0.7', extraOptions: { 150: 'x', 209: new Uint8Array([1, 2]), 54: 'nope' } }
  })
  t.same([over.bootfile, over.nextServer, over.reason], ['special.efi', '10.9.0.7', 'hook'])
  t.same(
    [...over.extraOptions],
    [
      [150, Buffer.from('x')],
      [209, Buffer.from([1, 2])],
    ],
    'server-owned option 54 dropped',
  )
  t.equal(seen[0], f, 'hook got the facts')
  t.equal((await run(() => undefined)).bootfile, 'ipxe.efi', 'undefined keeps defaults')

  const failures: Array<[string, DecideBoot, RegExp]> = [
    [
      'throws',
      () => {
        throw new Error('ldap down')
      },
      /ldap down/,
    ],
    ['rejects', async () => Promise.reject(new Error('nope')), /nope/],
    ['times out', () => new Promise(() => undefined), /no answer within 500 ms/],
    ['bad nextServer', () => ({ nextServer: 'not-an-ip' }), /IPv4/],
    ['bad option code', () => ({ extraOptions: { 300: 'x' } }), /not a code/],
    ['garbage', () => 42 as never, /non-object/],
  ]
  for (const [name, hook, reason] of failures) {
    const before = lines.length
    const choice = await run(hook)
    t.equal(choice.bootfile, 'ipxe.efi', `${name}: default used`)
    const logged = lines.slice(before).find((l) => l.msg === 'dhcp decideBoot failed, using defaults') as { err: { code: string; message: string } } | undefined
    t.equal(logged?.err.code, 'BP_ERR_DHCP_HOOK', `${name}: logged with code`)
    t.match(logged?.err.message, reason, `${name}: reason`)
  }
})
