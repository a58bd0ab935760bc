import t from 'tap'
import { decode, encode, type DhcpPacket } from '../../../core/dhcp/packet-codec.js'
import { isBootpolicyError } from '../../../core/errors/bp-error.js'

/** Fixed BOOTP header: op, htype, hlen, hops, xid, secs, flags, ciaddr..giaddr, chaddr, sname, file. */
function header(opts: { op?: number; hlen?: number; chaddr?: number[]; xid?: number; flags?: number; giaddr?: number[]; sname?: Buffer; file?: Buffer } = {}): Buffer {
  const b = Buffer.alloc(236)
  b[0] = opts.op ?? 1
  b[1] = 1
  b[2] = opts.hlen ?? 6
  b.writeUInt32BE(opts.xid ?? 0x1a2b3c4d, 4)
  b.writeUInt16BE(4, 8)
  b.writeUInt16BE(opts.flags ?? 0x8000, 10)
  Buffer.from(opts.giaddr ?? [0, 0, 0, 0]).copy(b, 24)
  Buffer.from(opts.chaddr ?? [0x52, 0x54, 0x00, 0xc0, 0xff, 0xee]).copy(b, 28)
  opts.sname?.copy(b, 44)
  opts.file?.copy(b, 108)
  return b
}
const COOKIE = [99, 130, 83, 99]
const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')]

// A DISCOVER as Debian's iPXE ROM (1.0.0+git-20190125) sends it in BIOS mode, byte for byte the
// option layout described in PLATFORM-NOTES.md: 77 is raw "iPXE", 97 is the SMBIOS-order GUID.
const IPXE_DISCOVER = Buffer.from([
  ...header(),
  ...COOKIE,
  53,
  1,
  1,
  57,
  2,
  0x05,
  0xc0,
  93,
  2,
  0,
  0,
  94,
  3,
  1,
  2,
  1,
  60,
  32,
  ...ascii('PXEClient:Arch:00000:UNDI:002001'),
  77,
  4,
  ...ascii('iPXE'),
  55,
  23,
  1,
  3,
  6,
  7,
  12,
  15,
  17,
  26,
  43,
  60,
  66,
  67,
  119,
  128,
  129,
  130,
  131,
  132,
  133,
  134,
  135,
  175,
  203,
  175,
  9,
  0xb1,
  0x05,
  0x01,
  0x80,
  0x86,
  0x10,
  0x0e,
  0xeb,
  0x03,
  61,
  7,
  1,
  0x52,
  0x54,
  0x00,
  0xc0,
  0xff,
  0xee,
  97,
  17,
  0,
  0x33,
  0x22,
  0x11,
  0x00,
  0x55,
  0x44,
  0x77,
  0x66,
  0x88,
  0x99,
  0xaa,
  0xbb,
  0xcc,
  0xdd,
  0xee,
  0xff,
  255,
])

t.test('golden decode: an iPXE BIOS DISCOVER', async (t) => {
  t.same(decode(IPXE_DISCOVER), {
    op: 1,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: 0x1a2b3c4d,
    secs: 4,
    flags: 0x8000,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: '0.0.0.0',
    chaddr: Buffer.from('525400c0ffee', 'hex'),
    sname: '',
    file: '',
    messageType: 1,
    options: new Map<number, Buffer>([
      [53, Buffer.from([1])],
      [57, Buffer.from([0x05, 0xc0])],
      [93, Buffer.from([0, 0])],
      [94, Buffer.from([1, 2, 1])],
      [60, Buffer.from('PXEClient:Arch:00000:UNDI:002001')],
      [77, Buffer.from('iPXE')],
      [55, Buffer.from([1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203])],
      [175, Buffer.from([0xb1, 0x05, 0x01, 0x80, 0x86, 0x10, 0x0e, 0xeb, 0x03])],
      [61, Buffer.from([1, 0x52, 0x54, 0x00, 0xc0, 0xff, 0xee])],
      [97, Buffer.from('0033221100554477668899aabbccddeeff', 'hex')],
    ]),
  } satisfies DhcpPacket)
})

t.test('golden decode: relayed REQUEST with padding, option overload and split options', async (t) => {
  // Options continue in the file field (overload 1); option 43 arrives in two pieces (RFC 3396),
  // one in the main area and one in file; pads sit between options.
  const file = Buffer.from([0, 0, 43, 2, 0xcc, 0xdd, 12, 4, ...ascii('node'), 255])
  const pkt = Buffer.from([
    ...header({ giaddr: [10, 1, 2, 1], flags: 0, file, sname: Buffer.from('ignored-sname\0') }),
    ...COOKIE,
    0,
    53,
    1,
    3,
    0,
    0,
    52,
    1,
    1,
    43,
    2,
    0xaa,
    0xbb,
    50,
    4,
    10,
    1,
    2,
    50,
    54,
    4,
    10,
    1,
    2,
    10,
    255,
    0,
    0,
    0,
    0,
  ])
  t.same(decode(pkt), {
    op: 1,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: 0x1a2b3c4d,
    secs: 4,
    flags: 0,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: '10.1.2.1',
    chaddr: Buffer.from('525400c0ffee', 'hex'),
    sname: 'ignored-sname',
    file: '',
    messageType: 3,
    options: new Map<number, Buffer>([
      [53, Buffer.from([3])],
      [52, Buffer.from([1])],
      [43, Buffer.from([0xaa, 0xbb, 0xcc, 0xdd])],
      [50, Buffer.from([10, 1, 2, 50])],
      [54, Buffer.from([10, 1, 2, 10])],
      [12, Buffer.from('node')],
    ]),
  })
})

t.test('binary client ids keep their zero bytes', async (t) => {
  const id = [0, 0, 0, 1, 0, 0xff, 0]
  const pkt = Buffer.from([...header(), ...COOKIE, 53, 1, 1, 61, id.length, ...id, 255])
  t.same(decode(pkt).options.get(61), Buffer.from(id))
})

t.test('sname and file stop at the first NUL; hlen limits chaddr', async (t) => {
  const pkt = Buffer.from([...header({ hlen: 4, sname: Buffer.from('srv\0junk'), file: Buffer.from('boot/x.efi\0\0zz') }), ...COOKIE, 255])
  const p = decode(pkt)
  t.equal(p.sname, 'srv')
  t.equal(p.file, 'boot/x.efi')
  t.same(p.chaddr, Buffer.from([0x52, 0x54, 0x00, 0xc0]))
  t.equal(p.messageType, undefined, 'no option 53: plain BOOTP')
})

t.test('malformed packets throw BP_ERR_DHCP_MALFORMED with the reason', async (t) => {
  const cases: Array<[string, Buffer, RegExp]> = [
    ['empty', Buffer.alloc(0), /0 bytes is shorter/],
    ['header only', header(), /236 bytes is shorter/],
    ['wrong cookie', Buffer.from([...header(), 1, 2, 3, 4, 255]), /wrong magic cookie/],
    ['op 3', Buffer.from([...header({ op: 3 }), ...COOKIE, 255]), /op 3/],
    ['hlen 17', Buffer.from([...header({ hlen: 17 }), ...COOKIE, 255]), /hardware address length 17/],
    ['length overruns', Buffer.from([...header(), ...COOKIE, 53, 1, 1, 60, 200, 1, 2, 3]), /option 60 in options claims 200 bytes, 3 remain/],
    ['no length byte', Buffer.from([...header(), ...COOKIE, 53, 1, 1, 60]), /option 60 in options has no length byte/],
    ['bad 53 length', Buffer.from([...header(), ...COOKIE, 53, 2, 1, 1, 255]), /option 53 has length 2/],
    ['bad overload value', Buffer.from([...header(), ...COOKIE, 52, 1, 7, 255]), /option 52 value 7/],
    ['bad overload length', Buffer.from([...header(), ...COOKIE, 52, 2, 1, 1, 255]), /option 52 has length 2/],
    ['overload inside file', Buffer.from([...header({ file: Buffer.from([52, 1, 3, 255]) }), ...COOKIE, 52, 1, 1, 255]), /option 52 inside the file field/],
    ['overrun inside sname', Buffer.from([...header({ sname: Buffer.from([Array(62).fill(0), [12, 9]].flat()) }), ...COOKIE, 52, 1, 2, 255]), /option 12 in sname claims 9 bytes/],
  ]
  for (const [name, buf, reason] of cases) {
    t.throws(() => decode(buf), { code: 'BP_ERR_DHCP_MALFORMED', message: reason }, name)
  }
  // Nothing but catalog errors ever escapes.
  try {
    decode(Buffer.alloc(10))
  } catch (err) {
    t.ok(isBootpolicyError(err, 'BP_ERR_DHCP_MALFORMED'))
  }
})

t.test('encode → decode round trip, 53 first, long options split, padded to 300 bytes', async (t) => {
  const long = Buffer.alloc(600, 7)
  const packet: DhcpPacket = {
    op: 2,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: 0xdeadbeef,
    secs: 0,
    flags: 0x8000,
    ciaddr: '0.0.0.0',
    yiaddr: '10.0.0.5',
    siaddr: '10.0.0.1',
    giaddr: '0.0.0.0',
    chaddr: Buffer.from('525400c0ffee', 'hex'),
    sname: '',
    file: 'undionly.kpxe',
    messageType: 2,
    options: new Map([
      [54, Buffer.from([10, 0, 0, 1])],
      [53, Buffer.from([2])],
      [43, long],
    ]),
  }
  const bytes = encode(packet, { maxPayload: 1400 })
  t.same([...bytes.subarray(240, 243)], [53, 1, 2], 'option 53 leads')
  const back = decode(bytes)
  t.same(back.options.get(43), long, 'RFC 3396 split and rejoined')
  t.same({ ...back, options: undefined }, { ...packet, options: undefined })
  const small = encode({ ...packet, options: new Map([[53, Buffer.from([5])]]) })
  t.equal(small.length, 300, 'BOOTP minimum size')
})

t.test('encode refuses what does not fit', async (t) => {
  const base = decode(IPXE_DISCOVER)
  t.throws(() => encode({ ...base, file: 'x'.repeat(128) }), { code: 'BP_ERR_DHCP_MALFORMED', message: /file of 128 bytes/ })
  t.throws(() => encode({ ...base, options: new Map([[66, Buffer.alloc(600)]]) }), { message: /exceeds the client's 548-byte limit/ })
  t.throws(() => encode({ ...base, options: new Map([[255, Buffer.alloc(1)]]) }), { message: /option code 255/ })
})
