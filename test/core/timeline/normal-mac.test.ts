/**
 * normalMac's fast path (a MAC already in `aa:bb:cc:dd:ee:ff` form is returned as is) gives exactly
 * what the regex definition gives, over the canonical form, its near misses and random text.
 */
import t from 'tap'
import { normalMac } from '../../../core/timeline/event-fields.js'

/** The definition the fast path must match (the code before it). */
function reference(raw: string | undefined): string | undefined {
  if (!raw || raw.length > 17 || !/^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$/i.test(raw)) return undefined
  return raw.replace(/[:-]/g, '').toLowerCase().match(/../g)!.join(':')
}

t.test('canonical MACs are returned as they are', async (t) => {
  const mac = '52:54:00:ab:cd:ef'
  t.equal(normalMac(mac), mac)
  for (const bad of ['52:54:00:AB:cd:ef', '52:54:00:ab:cd:eg', '52:54:00-ab:cd:ef', '52:54:00:ab:cd:e:', '52:54:00:ab:cd::f', ':52:54:00:ab:cd:e']) t.equal(normalMac(bad), reference(bad), bad)
})

t.test('agrees with the regex definition over 20,000 random inputs', async (t) => {
  const alphabet = '0123456789abcdefABCDEFgz:-. '
  let seed = 12
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed % n
  }
  let mismatches = 0
  let valid = 0
  for (let i = 0; i < 20_000; i++) {
    // Half start from a canonical MAC with one character changed; half are random text.
    let s: string
    if (i % 2) {
      const chars = Array.from({ length: 6 }, () => rnd(256).toString(16).padStart(2, '0'))
        .join(':')
        .split('')
      if (i % 4 === 1) chars[rnd(17)] = alphabet[rnd(alphabet.length)]!
      s = chars.join('')
    } else s = Array.from({ length: rnd(19) }, () => alphabet[rnd(alphabet.length)]).join('')
    if (normalMac(s) !== reference(s)) mismatches++
    if (reference(s)) valid++
  }
  t.equal(mismatches, 0)
  t.ok(valid > 5000, `the inputs include valid MACs (${valid})`)
})
