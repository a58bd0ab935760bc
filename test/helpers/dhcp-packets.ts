/**
 * Builders for client DHCP packets, shaped like the real firmware sends them (see
 * ../../../shared/PLATFORM-NOTES.md "Real iPXE as seen on the wire").
 */
import dgram from 'node:dgram'
import { BROADCAST_FLAG, encode, type DhcpPacket } from '../../core/dhcp/packet-codec.js'
import { MessageType, Opt } from '../../core/dhcp/options.js'

export interface ClientPacketSpec {
  readonly mac: string
  readonly type?: number
  readonly xid?: number
  readonly ciaddr?: string
  readonly giaddr?: string
  readonly broadcast?: boolean
  /** Extra options in order; strings are sent as ASCII. */
  readonly options?: ReadonlyArray<readonly [number, Buffer | string]>
}

export function clientPacket(spec: ClientPacketSpec): DhcpPacket {
  const options = new Map<number, Buffer>([[Opt.MESSAGE_TYPE, Buffer.from([spec.type ?? MessageType.DISCOVER])]])
  for (const [code, value] of spec.options ?? []) options.set(code, typeof value === 'string' ? Buffer.from(value, 'latin1') : value)
  return {
    op: 1,
    htype: 1,
    hlen: 6,
    hops: spec.giaddr ? 1 : 0,
    xid: spec.xid ?? Math.floor(Math.random() * 0xffffffff),
    secs: 4,
    flags: spec.broadcast === false ? 0 : BROADCAST_FLAG,
    ciaddr: spec.ciaddr ?? '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: spec.giaddr ?? '0.0.0.0',
    chaddr: Buffer.from(spec.mac.split(':').map((h) => parseInt(h, 16))),
    sname: '',
    file: '',
    messageType: spec.type ?? MessageType.DISCOVER,
    options,
  }
}

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(n)
  return b
}

/**
 * The options a PXE ROM sends in DISCOVER and REQUEST: 57 max size, 55 parameter list, 93 arch,
 * 94 UNDI, 97 GUID (`uuidHex`, 16 bytes), 60 PXEClient:Arch:NNNNN:UNDI:002001.
 */
export function pxeOptions(arch: number, uuidHex = '33221100554477668899aabbccddeeff'): Array<readonly [number, Buffer | string]> {
  return [
    [Opt.MAX_MESSAGE_SIZE, u16(1472)],
    [Opt.PARAM_LIST, Buffer.from([1, 3, 6, 12, 15, 17, 43, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135])],
    [Opt.CLIENT_ARCH, u16(arch)],
    [Opt.CLIENT_NDI, Buffer.from([1, 2, 1])],
    [Opt.CLIENT_UUID, Buffer.concat([Buffer.from([0]), Buffer.from(uuidHex, 'hex')])],
    [Opt.VENDOR_CLASS, `PXEClient:Arch:${String(arch).padStart(5, '0')}:UNDI:002001`],
  ]
}

/** A PXE ROM DISCOVER: pxeOptions(arch), then `extra`. */
export function pxeDiscover(mac: string, arch: number, extra: ReadonlyArray<readonly [number, Buffer | string]> = [], type: number = MessageType.DISCOVER): Buffer {
  return encode(clientPacket({ mac, type, options: [...pxeOptions(arch), ...extra] }))
}

/** What iPXE adds: option 77 raw "iPXE" and option 175 with a few feature flags. */
export const IPXE_OPTIONS: ReadonlyArray<readonly [number, Buffer | string]> = [
  [Opt.USER_CLASS, 'iPXE'],
  [Opt.IPXE_ENCAP, Buffer.from([0xb1, 0x05, 0x01, 0x80, 0x86, 0x10, 0x0e, 0xeb, 0x03, 0x01, 0x00, 0x00, 0x17, 0x01, 0x01])],
]

/** A scripted client's socket: port 68 on `address` (shared by several scripted sockets), broadcast on, large buffers. */
export async function openClientSocket(address: string, buffers: { recv?: number; send?: number } = {}): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: 'udp4', reuseAddr: true })
  await new Promise<void>((resolve) => s.bind(68, address, resolve))
  s.setBroadcast(true)
  s.setRecvBufferSize(buffers.recv ?? 4 << 20)
  if (buffers.send) s.setSendBufferSize(buffers.send)
  return s
}
