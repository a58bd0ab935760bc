import t from 'tap'
import { canonicalRrq, errorPacket, parseRequest } from '../../../core/tftp/parse-request.js'
import { rrq } from '../../helpers/tftp.js'

t.test('a plain RRQ and one with options', async (t) => {
  t.same(parseRequest(rrq('pxelinux.0')), { kind: 'read', file: 'pxelinux.0', mode: 'octet', options: {} })
  t.same(parseRequest(rrq('a', 'NetASCII', ['BLKSIZE', '1428', 'tsize', '0', 'WindowSize', '4', 'rollover', '0', 'timeout', '3', 'x', 'y'])), {
    kind: 'read',
    file: 'a',
    mode: 'netascii',
    options: { blksize: 1428, tsize: true, windowsize: 4, rollover: 0 },
  })
})

t.test('invalid option values are dropped, the first duplicate wins', async (t) => {
  for (const value of ['0', '7', '65465', '-1', '1e3', '0x10', '', ' 512', '1.5', '99999999999']) {
    t.same(parseRequest(rrq('a', 'octet', ['blksize', value])), { kind: 'read', file: 'a', mode: 'octet', options: {} }, `blksize ${JSON.stringify(value)}`)
  }
  t.same(parseRequest(rrq('a', 'octet', ['windowsize', '0'])), { kind: 'read', file: 'a', mode: 'octet', options: {} })
  t.same(parseRequest(rrq('a', 'octet', ['blksize', '512', 'blksize', '1428'])), { kind: 'read', file: 'a', mode: 'octet', options: { blksize: 512 } })
})

t.test('classification of everything else', async (t) => {
  t.same(parseRequest(Buffer.alloc(0)), { kind: 'stray' })
  t.same(parseRequest(Buffer.from([0])), { kind: 'stray' })
  for (const op of [3, 4, 5, 6]) t.same(parseRequest(Buffer.from([0, op, 0, 1])), { kind: 'stray' }, `opcode ${op} is never answered`)
  t.same(parseRequest(Buffer.from([0, 2, 97, 0, 111, 0])), { kind: 'write' })
  t.equal(parseRequest(Buffer.from([0, 7, 0])).kind, 'malformed')
  t.equal(parseRequest(Buffer.from([0, 1, 97, 0, 111])).kind, 'malformed', 'unterminated')
  t.equal(parseRequest(Buffer.from([0, 1, 97, 0])).kind, 'malformed', 'no mode')
  t.equal(parseRequest(rrq('', 'octet')).kind, 'malformed', 'empty name')
  t.equal(parseRequest(rrq('a', 'mail')).kind, 'malformed', 'mail mode')
  t.equal(parseRequest(rrq('a', 'octet', ['blksize'])).kind, 'malformed', 'option without value')
  t.equal(parseRequest(rrq(Buffer.from([0x61, 0xc3, 0xa9]))).kind, 'malformed', 'non-ASCII name')
  t.equal(parseRequest(rrq('a\tb')).kind, 'malformed', 'control byte')
  t.equal(parseRequest(rrq('a'.repeat(520))).kind, 'malformed', 'longer than 512 bytes')
})

t.test('canonical RRQ and ERROR packets', async (t) => {
  t.same(canonicalRrq('a/b', { blksize: 1428, tsize: true, windowsize: 4 }), rrq('a/b', 'octet', ['blksize', '1428', 'tsize', '0', 'windowsize', '4']))
  t.same(parseRequest(canonicalRrq('x', { rollover: 1 })), { kind: 'read', file: 'x', mode: 'octet', options: { rollover: 1 } })
  t.same(errorPacket(2, 'Access violation'), Buffer.from('\u0000\u0005\u0000\u0002Access violation\u0000', 'latin1'))
})
