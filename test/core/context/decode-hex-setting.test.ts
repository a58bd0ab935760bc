/**
 * decodeHexSetting and the MAC fast path are hand-written loops (they run on every /boot request):
 * each is held to the regex definition it replaced, over hostile and random inputs. One intended
 * difference: the old definition's `.` skipped line terminators, so `41\n42` decoded to `AB`; a
 * line terminator inside the hex text is now refused (docs/reference/boot-context.md).
 */
import t from 'tap'
import { decodeHexSetting } from '../../../core/context/parse-ipxe-query.js'
import { normalizeMac } from '../../../core/context/normalize-mac.js'

/** The old definition, unchanged: pairs of hex digits, split on `:`/`-` when the text has one, at most 1024 bytes. */
function reference(raw: string): number[] | undefined {
  const s = raw.trim()
  if (s === '') return []
  const parts = s.includes(':') || s.includes('-') ? s.split(/[:-]/) : (s.match(/.{1,2}/g) ?? [])
  if (parts.length > 1024 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) return undefined
  return parts.map((p) => parseInt(p, 16))
}

const decoded = (raw: string) => {
  const bytes = decodeHexSetting(raw)
  return bytes && [...bytes]
}

const LINE_TERMINATOR = /[\n\r\u2028\u2029]/

/** What the loop must give: the old definition's result, except the intended difference above. */
function expected(raw: string): number[] | undefined {
  return LINE_TERMINATOR.test(raw.trim()) ? undefined : reference(raw)
}

t.test('the one intended difference from the old definition: a line terminator inside the text', async (t) => {
  for (const c of ['41\n42', '41\r\n42', '41\u202842', '4142\n43']) {
    const name = JSON.stringify(c).replace(/\u2028/g, '\\u2028') // a raw U+2028 would break the TAP stream
    t.notSame(reference(c), undefined, `${name}: the old definition decoded it`)
    t.equal(decodeHexSetting(c), undefined, `${name}: now refused`)
  }
  t.same(decoded('41\n'), [0x41], 'a trailing newline is trimmed, as before')
})

t.test('decodeHexSetting agrees with its definition on hostile inputs', async (t) => {
  const cases = [
    '',
    ' ',
    '41',
    '4',
    '414',
    '41:42',
    '41-42-43',
    '41:42-43',
    ':41',
    '41:',
    '41::42',
    '41-',
    '-',
    ':',
    'zz',
    '4g',
    'G1',
    '41 42',
    ' 41:42 ',
    '41\n42',
    '41:4',
    '4:41',
    'ff:FF:aB',
    '0x41',
    '41.42',
    '٤١',
    '４１',
    '41\u000042',
    'ab'.repeat(1024),
    'ab'.repeat(1025),
    Array(1024).fill('ab').join(':'),
    Array(1025).fill('ab').join('-'),
    `${'ab:'.repeat(1023)}a`,
  ]
  for (const c of cases) t.same(decoded(c), expected(c), JSON.stringify(c.length > 40 ? `${c.slice(0, 20)}…(${c.length})` : c))
})

t.test('decodeHexSetting agrees with its definition on 20,000 random strings', async (t) => {
  const alphabet = '0123456789abcdefABCDEFg:- \t\n'
  let seed = 12345
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % n
  }
  let mismatches = 0
  let valid = 0
  for (let i = 0; i < 20_000; i++) {
    let s = ''
    const len = rand(12)
    for (let k = 0; k < len; k++) s += alphabet[rand(alphabet.length)]
    const want = expected(s)
    if (want) valid++
    if (JSON.stringify(decoded(s)) !== JSON.stringify(want)) mismatches++
  }
  t.equal(mismatches, 0)
  t.ok(valid > 100, `the random inputs include valid ones too (${valid})`)
})

t.test('the MAC fast path keeps the canonical form and refuses near misses', async (t) => {
  t.equal(normalizeMac('52-54-00-C0-FF-EE'), '52:54:00:c0:ff:ee')
  t.equal(normalizeMac('52:54-00:c0-ff:ee'), '52:54:00:c0:ff:ee', 'mixed separators, as before')
  t.equal(normalizeMac(' 52:54:00:c0:ff:ee\t'), '52:54:00:c0:ff:ee')
  t.equal(normalizeMac('52:54:00:c0:ff:e'), '52:54:00:c0:ff:0e', 'one-digit octets still take the slow path')
  for (const bad of ['52:54:00:c0:ff:eg', '52:54:00:c0:ff.ee', '52 54 00 c0 ff ee', '52:54:00:c0:ff:ee:', '５2:54:00:c0:ff:ee', '52;54;00;c0;ff;ee']) {
    t.equal(normalizeMac(bad), undefined, JSON.stringify(bad))
  }
})
