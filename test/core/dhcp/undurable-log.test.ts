/**
 * The log line for a lease change that did not reach the file says what happened for that kind of
 * message: a REQUEST's ACK is withheld (`no reply sent`, with the running `withheldTotal`), a
 * DECLINE or RELEASE, which never gets a reply, is only "not stored" and is not counted as a
 * withheld ACK. In-process, against the real responder and the real file backend; the write fails
 * for real (the state directory is removed under it).
 */
import t from 'tap'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { clientFacts } from '../../../core/dhcp/client-facts.js'
import { FileLeaseBackend } from '../../../core/dhcp/file-lease-backend.js'
import { createFullResponder, excludedAddresses } from '../../../core/dhcp/full-responder.js'
import { createGroupCommit } from '../../../core/dhcp/group-commit.js'
import type { LeaseChange } from '../../../core/dhcp/lease-backend.js'
import { newDhcpStats } from '../../../core/dhcp/dhcp-metrics.js'
import { MessageType, Opt } from '../../../core/dhcp/options.js'
import { resolveDhcpConfig } from '../../../core/dhcp/resolve-config.js'
import { sameSubnet } from '../../../core/dhcp/ipv4.js'
import type { Incoming } from '../../../core/dhcp/responder.js'
import { clientPacket } from '../../helpers/dhcp-packets.js'
import { captureLogs } from '../../helpers/log-capture.js'

const SERVER = '10.0.0.1'
const ip4 = (ip: string): Buffer => Buffer.from(ip.split('.').map(Number))

t.test('a DECLINE that is not stored is not logged as a withheld ACK', async (t) => {
  const cfg = resolveDhcpConfig({ mode: 'full', serverAddress: SERVER, pool: { start: '10.0.0.10', end: '10.0.0.50' }, subnetMask: '255.255.255.0', leaseSeconds: 3600 })
  const dir = join(t.testdir(), 'state')
  await mkdir(dir)
  const store = new FileLeaseBackend({
    file: join(dir, 'leases.json'),
    poolStart: '10.0.0.10',
    poolEnd: '10.0.0.50',
    reserved: new Map(),
    excluded: excludedAddresses(cfg, SERVER),
    inSubnet: (ip) => sameSubnet(ip, '10.0.0.10', '255.255.255.0'),
    maxOffers: 64,
  })
  await store.load()
  const stats = newDhcpStats(64, 16)
  const responder = createFullResponder({ config: cfg, serverAddress: SERVER, store, commits: createGroupCommit<LeaseChange>((b) => store.commit(b)), stats })
  const logs = captureLogs('debug')
  const send = (mac: string, type: number, options: Array<[number, Buffer]>) => {
    const packet = clientPacket({ mac, type, options })
    return responder({ packet, facts: clientFacts(packet)!, from: { address: '0.0.0.0', port: 68 }, localPort: 67 } as Incoming, logs.logger)
  }
  const lease = async (mac: string): Promise<string> => {
    const offer = await send(mac, MessageType.DISCOVER, [])
    const ip = offer!.packet.yiaddr
    const ack = await send(mac, MessageType.REQUEST, [
      [Opt.SERVER_ID, ip4(SERVER)],
      [Opt.REQUESTED_IP, ip4(ip)],
    ])
    t.equal(ack?.packet.messageType, MessageType.ACK, `${mac} is ACKed`)
    return ip
  }
  const ip = await lease('02:00:00:00:00:01')

  await store.close() // the next commit compacts into the directory, which is gone
  await rm(dir, { recursive: true })
  const declined = await send('02:00:00:00:00:01', MessageType.DECLINE, [
    [Opt.SERVER_ID, ip4(SERVER)],
    [Opt.REQUESTED_IP, ip4(ip)],
  ])
  t.equal(declined, undefined)
  const line = logs.records().find((l) => l.ip === ip && l.err)
  t.match(line, { level: 50, message: 'DECLINE', msg: 'dhcp lease change not durable, not applied to the file', err: { code: 'BP_ERR_DHCP_STATE' } })
  t.notOk('withheldTotal' in line!, 'no withheld-ACK count on a DECLINE')
  t.equal(stats.acksWithheld, 0, 'no ACK was withheld')

  const offer = await send('02:00:00:00:00:02', MessageType.DISCOVER, [])
  const other = offer!.packet.yiaddr
  const silent = await send('02:00:00:00:00:02', MessageType.REQUEST, [
    [Opt.SERVER_ID, ip4(SERVER)],
    [Opt.REQUESTED_IP, ip4(other)],
  ])
  t.equal(silent, undefined, 'a REQUEST whose lease is not stored gets silence')
  t.equal(stats.acksWithheld, 1)
  t.match(
    logs.records().find((l) => l.ip === other && l.err),
    { msg: 'dhcp lease not durable, no reply sent', withheldTotal: 1 },
    'the withheld ACK is logged with the count including it',
  )
  await store.close()
})
