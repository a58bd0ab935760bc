/**
 * The hand-written dotted-quad parser accepts exactly the language of IPV4_PATTERN (the config
 * schema's regex): hostile spellings (leading zeros, 256, missing or extra parts, spaces) are
 * refused by both, checked on fixed cases and 200,000 random near-misses.
 */
import t from 'tap'
import { IPV4_PATTERN, intToIp, ipToInt, isIpv4 } from '../../../core/dhcp/ipv4.js'

const regex = new RegExp(IPV4_PATTERN)

t.test('parser and schema regex agree on hostile spellings', async (t) => {
  const cases = [
    '0.0.0.0',
    '255.255.255.255',
    '10.0.0.1',
    '01.0.0.1',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '1..2.3',
    '1.2.3.',
    '.1.2.3',
    ' 1.2.3.4',
    '1.2.3.4 ',
    '00.0.0.0',
    '1.2.3.-4',
    'a.b.c.d',
    '999.0.0.0',
    '1.2.3.4\n',
    '１.2.3.4',
    '',
  ]
  t.same(
    cases.filter((c) => isIpv4(c) !== regex.test(c)),
    [],
  )
  let mismatches = 0
  for (let i = 0; i < 200_000; i++) {
    const parts = Array.from({ length: 3 + (i % 3) }, () => String(Math.floor(Math.random() * 300)).padStart(Math.random() < 0.1 ? 3 : 0, '0'))
    const c = parts.join('.')
    if (isIpv4(c) !== regex.test(c)) mismatches++
  }
  t.equal(mismatches, 0, 'random near-misses')
})

t.test('round trip and refusal', async (t) => {
  t.equal(ipToInt('10.0.0.1'), 167772161)
  t.equal(ipToInt('255.255.255.255'), 4294967295)
  for (const ip of ['0.0.0.0', '10.84.1.255', '192.168.0.1']) t.equal(intToIp(ipToInt(ip)), ip)
  t.throws(() => ipToInt('10.0.0.01'), TypeError)
})
