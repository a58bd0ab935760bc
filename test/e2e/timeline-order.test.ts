/**
 * The ordered-subsequence matcher the e2e tests assert timelines with (test/helpers/timeline-order.ts):
 * it must fail on a missing step, a step out of order, a wrong field, and a field absent where a
 * RegExp was given — else the e2e timeline assertions could pass on anything.
 */
import t from 'tap'
import { missingStep, type TimelineEventLike } from '../helpers/timeline-order.js'

const ev = (seq: number, source: string, type: string, fields: Record<string, string | number | boolean> = {}): TimelineEventLike => ({ seq, source, type, fields })
const events = [
  ev(1, 'dhcp', 'ACK'),
  ev(2, 'http', 'bootstrap', { path: '/boot.ipxe' }),
  ev(3, 'dhcp', 'ACK'),
  ev(4, 'http', 'decision', { kind: 'boot', trace: 'p:decided' }),
  ev(5, 'files', 'download', { file: 'vmlinuz', completed: true }),
]

t.equal(
  missingStep(events, [
    { source: 'dhcp', type: 'ACK' },
    { source: 'http', type: 'decision', fields: { kind: 'boot', trace: /:decided$/ } },
    { source: 'files', type: 'download', fields: { completed: true } },
  ]),
  undefined,
  'in order, others between',
)
t.match(
  missingStep(events, [
    { source: 'files', type: 'download' },
    { source: 'http', type: 'decision' },
  ]),
  /^step 1 http\/decision .* not found in order; timeline: dhcp\/ACK .*files\/download\(vmlinuz\)$/,
  'out of order',
)
t.match(missingStep(events, [{ source: 'callback', type: 'built' }]), /^step 0 callback\/built/, 'missing')
t.match(missingStep(events, [{ source: 'files', type: 'download', fields: { completed: false } }]), /^step 0/, 'a field that differs')
t.match(missingStep(events, [{ source: 'dhcp', type: 'ACK', fields: { yiaddr: /./ } }]), /"yiaddr":"\/\.\/"/, 'a RegExp on an absent field fails, and is shown')
t.match(
  missingStep(events, [
    { source: 'dhcp', type: 'ACK' },
    { source: 'dhcp', type: 'ACK' },
    { source: 'dhcp', type: 'ACK' },
  ]),
  /^step 2/,
  'one event matches one step only',
)
