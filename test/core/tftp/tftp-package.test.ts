/**
 * The npm tftp package's sender crashes the process on an ACK that arrives while no window is
 * outstanding (early ACK 0, a late duplicate between two file chunks). The fuzz test rarely lands
 * in that gap, so this drives the package directly into it.
 */
import t from 'tap'
import dgram from 'node:dgram'
import { packageOptions, startReadTransfer, type PackagePutStream } from '../../../core/tftp/tftp-package.js'
import { canonicalRrq } from '../../../core/tftp/parse-request.js'

t.test('an ACK before any data is outstanding is ignored instead of crashing', async (t) => {
  const client = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve))
  const socket = dgram.createSocket('udp4')
  const options = packageOptions({ blksizeMax: 1468, windowsizeMax: 4, timeoutMs: 200, retries: 0 })
  const ready = new Promise<PackagePutStream>((resolve) => {
    const { req } = startReadTransfer(socket, { address: '127.0.0.1', port: client.address().port, family: 'IPv4', size: 0 }, canonicalRrq('f', {}), options, (_req, res) => resolve(res))
    req.on('error', () => undefined)
  })
  const res = await ready
  const writer = (res as unknown as { _writer: { _onAck(ack: { block: number }): void } })._writer
  // Without the guard each of these throws a TypeError out of the socket's message handler.
  t.doesNotThrow(() => writer._onAck({ block: 0 }), 'early ACK 0')
  t.doesNotThrow(() => writer._onAck({ block: 1 }), 'ACK for a block never sent')
  res.setSize(3)
  res.end(Buffer.from('abc'))
  const data = await new Promise<Buffer>((resolve) => client.once('message', resolve))
  t.equal(data.readUInt16BE(0), 3, 'the transfer still sends DATA afterwards')
  t.equal(data.subarray(4).toString(), 'abc')
  client.close()
  socket.close()
})
