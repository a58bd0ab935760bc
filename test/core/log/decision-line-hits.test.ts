/**
 * A memoized response's hits repeat one record but for reqId and wallUs: the decision log keeps
 * their text per context (decision-line.ts). The kept text must be exactly what a full write of
 * the same record gives, and must not be used once a field differs, an object in it could have
 * changed, or a secret was registered after it was kept.
 */
import t from 'tap'
import { deepFreeze } from '../../../core/context/deep-freeze.js'
import { decisionJson } from '../../../core/log/decision-line.js'
import { registerSecret } from '../../../core/log/secret-registry.js'

type Rec = { readonly reqId: string } & Record<string, unknown>
const write = (r: Rec) => decisionJson(r)

const context = deepFreeze({ mac: '52:54:00:00:00:01', arch: 'x86_64-efi', remoteAddress: '127.0.0.1', params: {}, auth: { status: 'none' }, plugins: {}, dropped: [] })
const base = (): Rec => ({
  reqId: 'abcd000001',
  context,
  policies: deepFreeze([{ policy: '10-per-mac.ts', outcome: 'decided', us: 12 }]),
  plugins: deepFreeze([]),
  decidedBy: 'policy:10-per-mac.ts',
  kind: 'chain',
  summary: 'chain http://boot.example.org/a-long-token-value',
  cached: true,
  cpuUs: 0,
  wallUs: 40,
})
/** The full write: the same record with its keys in another object (no memo matches a fresh context). */
const full = (r: Rec) => write({ ...r, context: deepFreeze({ ...(r.context as object) }) })

t.test('a hit is written as a full write would write it, whatever its wallUs', async (t) => {
  const first = base()
  t.equal(write(first), full(first))
  for (const wallUs of [7, 123456, 0]) {
    const hit = { ...first, reqId: 'abcd000002', wallUs }
    t.equal(write(hit), full(hit), `wallUs ${wallUs}`)
  }
})

t.test('a field that differs, an unsealed object, another key order: written in full', async (t) => {
  const first = base()
  write(first)
  const other = { ...first, summary: 'chain http://boot.example.org/other' }
  t.match(write(other), /other"/)
  const policies = [{ policy: '10-per-mac.ts', outcome: 'decided', us: 12 }]
  const open = { ...first, policies }
  write(open)
  policies[0]!.outcome = 'passed'
  t.match(write({ ...open, wallUs: 9 }), /"outcome":"passed"/, 'an unsealed trace is read again')
  const { wallUs, ...rest } = first
  const reordered = { wallUs, ...rest }
  t.equal(write(reordered), full(reordered))
})

t.test('hazard: a secret registered after a hit was kept is scrubbed from the next hit', async (t) => {
  const first = base()
  t.match(write(first), /a-long-token-value/)
  registerSecret('a-long-token-value')
  const next = write({ ...first, wallUs: 41 })
  t.notMatch(next, /a-long-token-value/)
  t.equal(next, full({ ...first, wallUs: 41 }))
})
