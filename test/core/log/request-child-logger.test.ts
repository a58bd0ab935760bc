/**
 * fastify's per-request child (requestChildLogger, logger.ts) is made without pino's child() for a
 * plain request id: its lines, bindings and grandchildren must be exactly those of pino's child,
 * the id must appear once, and anything else (an id needing escapes, more bindings, options, a
 * parent that binds reqId already) must go through child() as before.
 */
import t from 'tap'
import { createLogger, requestChildLogger } from '../../../core/log/logger.js'
import { parseStrictJson } from '../../helpers/strict-json.js'

function capture() {
  const lines: string[] = []
  const logger = createLogger('info', { write: (s: string) => void lines.push(s) })
  return { logger, lines }
}
const withoutTime = (line: string) => ({ ...(parseStrictJson(line) as Record<string, unknown>), time: 0 })

t.test('a plain id: the same lines, bindings and grandchildren as pino child()', async (t) => {
  const { logger, lines } = capture()
  const fast = requestChildLogger(logger, { reqId: 'beef000001' }, {})
  const slow = logger.child({ reqId: 'beef000001' }, {})
  t.same(fast.bindings(), slow.bindings())
  for (const l of [fast, slow]) {
    l.info({ x: 1 }, 'line')
    l.warn('plain')
    l.child({ area: 'x' }).info({ reqId: 'other' }, 'grandchild with a colliding key')
  }
  t.equal(lines.length, 6)
  for (let i = 0; i < 3; i++) t.same(withoutTime(lines[i]!), withoutTime(lines[i + 3]!), `line ${i}`)
  t.equal((parseStrictJson(lines[0]!) as Record<string, unknown>).reqId, 'beef000001')
  t.equal(fast.isLevelEnabled('info'), true)
  t.equal(fast.isLevelEnabled('debug'), false)
})

t.test('anything but a plain id goes through child(): escapes, more bindings, options, a parent binding reqId', async (t) => {
  const { logger, lines } = capture()
  requestChildLogger(logger, { reqId: 'a"b\\c' }, {}).info('escaped')
  requestChildLogger(logger, { reqId: 'r1', area: 'x' }, {}).info('two')
  requestChildLogger(logger, { reqId: 'r2' }, { level: 'warn' }).info('not written: the child is at warn')
  requestChildLogger(logger.child({ reqId: 'outer' }), { reqId: 'inner' }, {}).info('nested')
  t.equal(lines.length, 3)
  const [escaped, two, nested] = lines.map((l) => parseStrictJson(l) as Record<string, unknown>)
  t.equal(escaped!.reqId, 'a"b\\c')
  t.match(two, { reqId: 'r1', area: 'x' })
  t.equal(nested!.reqId, 'inner', 'one reqId key (strict parse), the inner one')
})
