/**
 * DHCP DORA for the boot-storm generator: many simulated clients share one pair of port-68
 * sockets (as dora-client.ts does) and are told apart by xid. Each session keeps one xid, as iPXE
 * does, and retransmits on iPXE's schedule (1, 2, 4, 8 s) in both DISCOVER and REQUEST; it takes
 * the first OFFER (iPXE with 175.176 no-pxedhcp, which bootpolicy sends and the reference is
 * given too) and gives up when the schedule runs out: that client is lost.
 */
import type dgram from 'node:dgram'
import { decode, encode, type DhcpPacket } from '../../core/dhcp/packet-codec.js'
import { MessageType, Opt } from '../../core/dhcp/options.js'
import { clientPacket, openClientSocket } from '../../test/helpers/dhcp-packets.js'

/** iPXE's DHCP retransmission timeouts (src/net/udp/dhcp.c: start 1 s, doubling, end after 8 s). */
export const IPXE_SCHEDULE_MS = [1000, 2000, 4000, 8000] as const

export interface Lease {
  readonly address: string
  readonly serverId: Buffer
  /** siaddr: the TFTP server. */
  readonly nextServer: string
  /** The boot file (option 67, else the `file` field). */
  readonly bootfile: string
  /** ms from the first DISCOVER to the OFFER, and from the first REQUEST to the ACK. */
  readonly offerMs: number
  readonly ackMs: number
  /** DISCOVERs and REQUESTs sent beyond the first. */
  readonly retransmits: number
}

type Options = ReadonlyArray<readonly [number, Buffer | string]>
interface Waiter {
  readonly want: number
  readonly resolve: (p: DhcpPacket) => void
}

export class DhcpSessions {
  readonly #wildcard: dgram.Socket
  readonly #sender: dgram.Socket
  readonly #waiting = new Map<number, Waiter>()
  #nextXid = (Math.random() * 0x7fffffff) >>> 0

  private constructor(wildcard: dgram.Socket, sender: dgram.Socket) {
    this.#wildcard = wildcard
    this.#sender = sender
    const onMessage = (buf: Buffer): void => {
      let p: DhcpPacket
      try {
        p = decode(buf)
      } catch {
        return
      }
      const w = this.#waiting.get(p.xid)
      if (!w || p.op !== 2) return
      if (p.messageType === w.want || (w.want === MessageType.ACK && p.messageType === MessageType.NAK)) {
        this.#waiting.delete(p.xid)
        w.resolve(p)
      }
    }
    wildcard.on('message', onMessage)
    sender.on('message', onMessage)
  }

  /** Binds 0.0.0.0:68 (broadcast replies) and `sourceAddress`:68 (what the clients send from). */
  static async open(sourceAddress: string): Promise<DhcpSessions> {
    const open = (address: string): Promise<dgram.Socket> => openClientSocket(address, { recv: 8 << 20, send: 4 << 20 })
    return new DhcpSessions(await open('0.0.0.0'), await open(sourceAddress))
  }

  close(): void {
    this.#wildcard.close()
    this.#sender.close()
  }

  /** One DORA for `mac` with `options` in both messages; undefined when iPXE would give up. */
  async dora(mac: string, options: Options): Promise<Lease | undefined> {
    const xid = this.#nextXid++ >>> 0
    let retransmits = 0
    const discover = encode(clientPacket({ mac, xid, options }))
    const t0 = performance.now()
    const offer = await this.#exchange(xid, discover, MessageType.OFFER, () => retransmits++)
    if (!offer) return undefined
    const offerMs = performance.now() - t0
    const serverId = offer.options.get(Opt.SERVER_ID)
    if (!serverId) return undefined
    const request = encode(
      clientPacket({
        mac,
        xid,
        type: MessageType.REQUEST,
        options: [...options, [Opt.SERVER_ID, serverId], [Opt.REQUESTED_IP, Buffer.from(offer.yiaddr.split('.').map(Number))]],
      }),
    )
    const t1 = performance.now()
    const ack = await this.#exchange(xid, request, MessageType.ACK, () => retransmits++)
    if (!ack || ack.messageType !== MessageType.ACK) return undefined
    const bootfile = ack.options.get(Opt.BOOTFILE)?.toString('latin1').replace(/\0+$/, '') ?? ack.file
    return { address: ack.yiaddr, serverId, nextServer: ack.siaddr, bootfile, offerMs, ackMs: performance.now() - t1, retransmits }
  }

  async #exchange(xid: number, bytes: Buffer, want: number, onRetransmit: () => void): Promise<DhcpPacket | undefined> {
    const reply = new Promise<DhcpPacket>((resolve) => this.#waiting.set(xid, { want, resolve }))
    for (let i = 0; i < IPXE_SCHEDULE_MS.length; i++) {
      if (i > 0) onRetransmit()
      this.#sender.send(bytes, 67, '255.255.255.255')
      let timer: NodeJS.Timeout | undefined
      // The timeout is decided after the event loop's next poll (setImmediate): on a loaded machine
      // a reply that arrived in time but was not read yet must not count as lost.
      const got = await Promise.race([reply, new Promise<undefined>((r) => (timer = setTimeout(() => setImmediate(() => r(undefined)), IPXE_SCHEDULE_MS[i])))])
      clearTimeout(timer)
      if (got) return got
    }
    this.#waiting.delete(xid)
    return undefined
  }
}
