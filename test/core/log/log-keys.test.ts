/**
 * Hazard: pino appends a child's bindings to its parent's and the logged object after both, so
 * `service` (base and the TFTP child), `plugin` (binding and a plugin's own field) or `msg`
 * appear twice in one line; strict parsers reject such lines and JSON.parse silently keeps one.
 */
import t from 'tap'
import { Writable } from 'node:stream'
import { createLogger } from '../../../core/log/logger.js'
import { parseStrictJson } from '../../helpers/strict-json.js'

t.test('every log line has each key once: bindings, colliding fields, msg, level and time', async (t) => {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk: Buffer, _e, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean))
      done()
    },
  })
  const root = createLogger('info', stream)
  root.child({ service: 'tftp' }).info('a')
  root.child({ plugin: 'x' }).info({ plugin: 'y', plugin_: 'z' }, 'b')
  root.info({ msg: 'inner' }, 'c')
  root.info({ msg: 'only' })
  root.info({ level: 'x', time: 1, service: 'evil' }, 'd')
  root.child({ a: 1 }).child({ a: 2 }).info({ a: 3 }, 'e')
  root.child({ plugin: 'x' }).warn({ err: new Error('boom') })
  root.child({ reqId: 'r1' }).child({ reqId: 'r2' }).info('f')
  root.child({ reqId: 'r"1' }).child({ reqId: 'r\\2' }).info('g')
  t.equal(lines.length, 9)
  const parsed = lines.map((l) => parseStrictJson(l) as Record<string, unknown>)
  t.match(parsed[0], { service: 'tftp', msg: 'a' }, "the child's binding wins")
  t.match(parsed[1], { plugin: 'x', plugin__: 'y', plugin_: 'z', msg: 'b' }, 'a colliding field is renamed, past existing names')
  t.match(parsed[2], { msg: 'c', msg_: 'inner' })
  t.match(parsed[3], { msg: 'only' }, 'an object msg without a message argument stays msg')
  t.match(parsed[4], { level: 30, level_: 'x', time_: 1, service: 'bootpolicy', service_: 'evil' })
  t.match(parsed[5], { a: 2, a_: 3 })
  t.match(parsed[6], { plugin: 'x', msg: 'boom' })
  t.match(parsed[7], { reqId: 'r2', msg: 'f' }, "one plain string binding (the per-request fast path) still replaces its parent's")
  t.match(parsed[8], { reqId: 'r\\2', msg: 'g' }, 'escaped values take the full path')
})
