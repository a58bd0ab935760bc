import t from 'tap'
import { normalizeMac } from '../../../core/context/normalize-mac.js'

t.test('accepts every common MAC form', async (t) => {
  for (const input of ['52:54:00:C0:FF:EE', '52-54-00-c0-ff-ee', '525400c0ffee', '5254.00c0.ffee', '52:54:0:c0:ff:ee']) {
    t.equal(normalizeMac(input), '52:54:00:c0:ff:ee', input)
  }
})

t.test('rejects anything that is not six octets', async (t) => {
  for (const input of ['', '52:54:00:c0:ff', '52:54:00:c0:ff:ee:00', 'zz:54:00:c0:ff:ee', '52:54:00:c0:ff:ee;reboot', '525400c0ffe']) {
    t.equal(normalizeMac(input), undefined, JSON.stringify(input))
  }
})
