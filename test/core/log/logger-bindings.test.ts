/**
 * A child logger's bindings and a logged object never repeat a key of the parent's bindings, also
 * after the parent's setBindings added one (logger.ts keeps its key caches with the text they came
 * from). Lines are parsed strictly: JSON.parse would silently keep the last duplicate.
 */
import t from 'tap'
import { createLogger } from '../../../core/log/logger.js'
import { parseStrictJson } from '../../helpers/strict-json.js'

function capture() {
  const lines: string[] = []
  const logger = createLogger('info', { write: (s: string) => void lines.push(s) })
  return { logger, lines }
}

t.test('hazard: a child repeating a key its parent got by setBindings writes it once', async (t) => {
  const { logger, lines } = capture()
  const parent = logger.child({ area: 'dhcp' })
  parent.child({ reqId: 'r1' }).info('before') // fills the parent's key cache
  parent.setBindings({ iface: 'eth0' })
  parent.child({ iface: 'eth1' }).info('child')
  parent.child({ iface: 'eth2', reqId: 'r3' }).info('two keys')
  const records = lines.map((l) => parseStrictJson(l.trim()) as Record<string, unknown>)
  t.equal(records.length, 3)
  t.equal(records[1]!.iface, 'eth1', 'one iface key, the child one')
  t.equal(records[2]!.iface, 'eth2')
})

t.test('hazard: a logged object repeating a key the logger got by setBindings does not duplicate it', async (t) => {
  const { logger, lines } = capture()
  const child = logger.child({ reqId: 'r1' })
  child.info({ x: 1 }, 'fills the reserved-key cache')
  child.setBindings({ iface: 'eth0' })
  child.info({ iface: 'other' }, 'object with the new key')
  const rec = parseStrictJson(lines[1]!.trim()) as Record<string, unknown>
  t.equal(rec.iface, 'eth0')
  t.equal(rec.iface_, 'other', 'the object key is renamed')
})
