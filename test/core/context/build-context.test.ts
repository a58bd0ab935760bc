import t from 'tap'
import { buildContext } from '../../../core/context/build-context.js'
import { isSealed } from '../../../core/context/deep-freeze.js'
import { parseIpxeQuery, decodeIpxeComponent } from '../../../core/context/parse-ipxe-query.js'
import { archFromOption93, archFromIpxe } from '../../../core/context/normalize-arch.js'
import { normalizeUuid, uuidFromSmbiosBytes } from '../../../core/context/normalize-uuid.js'

const ctxOf = (query: string) => buildContext({ query: parseIpxeQuery(query), remoteAddress: '192.0.2.9' })

t.test('a real iPXE request becomes one normalized, frozen context', async (t) => {
  const { context, credentials } = ctxOf(
    'mac=52%3A54%3A00%3Ac0%3Aff%3Aee&uuid=8C3B5F3A-1D2E-4F60-9A7B-0123456789AB&buildarch=x86_64&platform=efi&ip=10.0.0.5' +
      '&serial_hex=53:4e:20:31&manufacturer=QEMU&product_hex=53:74:61:6e:64:61:72:64:20:50:43:20:28:51:33:35:20:2b:20:49:43:48:39:2c:20:32:30:30:39:29&hostname=node-1',
  )
  t.same(context, {
    mac: '52:54:00:c0:ff:ee',
    uuid: '8c3b5f3a-1d2e-4f60-9a7b-0123456789ab',
    arch: 'x86_64-efi',
    buildarch: 'x86_64',
    platform: 'efi',
    serial: 'SN 1',
    manufacturer: 'QEMU',
    product: 'Standard PC (Q35 + ICH9, 2009)',
    hostname: 'node-1',
    ip: '10.0.0.5',
    remoteAddress: '192.0.2.9',
    params: {},
    auth: { status: 'none' },
    plugins: {},
    dropped: [],
  })
  t.ok(Object.isFrozen(context) && Object.isFrozen(context.params))
  t.equal(credentials, undefined)
})

t.test("iPXE's URL quirks", async (t) => {
  t.equal(decodeIpxeComponent('a+b'), 'a+b', '+ stays a plus')
  t.equal(decodeIpxeComponent('caf%FFFFFFC3%FFFFFFA9'), 'café', 'sign-extended bytes decode as UTF-8')
  t.equal(decodeIpxeComponent('50%'), '50%', 'a bad escape is kept, not thrown')
  t.equal(ctxOf('serial=A%20B').context.serial, 'A B')
  t.equal(ctxOf('serial=a&b=c').context.params.b, 'c', 'an unescaped & splits, as iPXE does; the hex form avoids it')
  t.equal(ctxOf('serial_hex=61:26:62:3d:63:23:64').context.serial, 'a&b=c#d', 'the hex form keeps every byte')
})

t.test('malformed fields are dropped and named, the request goes on', async (t) => {
  const { context } = ctxOf('mac=zz:zz&uuid=nope&buildarch=x86_64;reboot&platform=efi&ip=999.1.1.1&hostname=bad_host!&serial=ok%0Aline&arch=sparc')
  t.same([...context.dropped].sort(), ['arch', 'buildarch', 'hostname', 'ip', 'mac', 'serial', 'uuid'])
  t.equal(context.mac, undefined)
  t.equal(context.arch, 'unknown')
})

t.test('every value is length-bounded', async (t) => {
  t.same(ctxOf(`serial=${'x'.repeat(129)}`).context.dropped, ['serial'])
  t.throws(() => parseIpxeQuery('a='.padEnd(9000, 'x')), { code: 'BP_ERR_CONTEXT_UNREADABLE' })
  t.throws(() => parseIpxeQuery(Array.from({ length: 65 }, (_, i) => `p${i}=1`).join('&')), { code: 'BP_ERR_CONTEXT_UNREADABLE' })
})

t.test('credentials are kept apart from the context', async (t) => {
  const { context, credentials } = ctxOf('username=alice&password_hex=73:33:63:72:33:74:26:3d&instance=fc29')
  t.same(credentials, { username: 'alice', password: 's3cr3t&=' })
  t.notMatch(JSON.stringify(context), /s3cr3t/, 'no password anywhere in the context')
  t.same(context.params, { instance: 'fc29' })
  t.equal(context.auth.username, 'alice')
  t.same(ctxOf('username=al%20ice;rm&password=x').context.dropped, ['username'], 'usernames outside the character set are dropped')
})

t.test('arch vocabulary is shared by DHCP option 93 and iPXE', async (t) => {
  t.equal(archFromOption93(0), 'i386-pcbios')
  t.equal(archFromOption93(7), 'x86_64-efi')
  t.equal(archFromOption93(9), 'x86_64-efi')
  t.equal(archFromOption93(11), 'arm64-efi')
  t.equal(archFromOption93(16), 'x86_64-efi')
  t.equal(archFromOption93(4242), 'unknown')
  t.equal(archFromIpxe('x86_64', 'efi'), 'x86_64-efi')
  t.equal(archFromIpxe('i386', 'pcbios'), 'i386-pcbios')
  t.equal(archFromIpxe('arm64', 'efi'), 'arm64-efi')
  t.equal(ctxOf('arch93=7').context.arch, 'x86_64-efi')
})

t.test('UUIDs: canonical form, and the SMBIOS byte order of DHCP option 97', async (t) => {
  t.equal(normalizeUuid('{8C3B5F3A1D2E4F609A7B0123456789AB}'), '8c3b5f3a-1d2e-4f60-9a7b-0123456789ab')
  const bytes = Uint8Array.from([0x3a, 0x5f, 0x3b, 0x8c, 0x2e, 0x1d, 0x60, 0x4f, 0x9a, 0x7b, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab])
  t.equal(uuidFromSmbiosBytes(bytes), '8c3b5f3a-1d2e-4f60-9a7b-0123456789ab')
})

t.test('round-trip parameters survive any characters via <name>_hex', async (t) => {
  const { identityQuery } = await import('../../../core/ipxe/identity-query.js')
  const first = ctxOf('mac=52:54:00:00:00:01').context
  const query = identityQuery(first, { instance: 'fc29', note: 'a&b=c #1 é' })
  const back = ctxOf(query).context
  t.same(back.params, { instance: 'fc29', note: 'a&b=c #1 é' })
  t.equal(back.mac, first.mac)
  t.same(ctxOf('mac_hex=41&username_hex=41').context.params, {}, 'reserved names cannot come back as params')
})

t.test('every part of a built context is sealed: shared empty parts and per-request ones alike', async (t) => {
  for (const query of ['mac=52-54-00-00-00-01', 'mac=52-54-00-00-00-01&instance=a&uuid=bad&username=alice&password=pw']) {
    const { context } = buildContext({ query: parseIpxeQuery(query), remoteAddress: '127.0.0.1' })
    for (const part of [context, context.params, context.auth, context.plugins, context.dropped]) t.ok(isSealed(part) && Object.isFrozen(part), `${query}: ${JSON.stringify(part).slice(0, 40)}`)
  }
})
