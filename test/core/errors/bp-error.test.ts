import t from 'tap'
import { BootpolicyError, isBootpolicyError } from '../../../core/errors/bp-error.js'

t.test('catalog errors are recognised across copies of the module', async (t) => {
  const own = new BootpolicyError('BP_ERR_POLICY_TIMEOUT', { policy: 'p.ts', timeoutMs: 50, location: 'p.ts:3' })
  t.equal(own.message, 'Policy p.ts exceeded its 50 ms time limit at p.ts:3')
  // What another copy's error looks like to this one: a plain Error carrying the shared mark.
  const foreign = Object.assign(new Error('x'), { code: 'BP_ERR_PLUGIN_HOOK', [Symbol.for('bootpolicy.error')]: true })
  t.ok(foreign instanceof BootpolicyError)
  t.ok(isBootpolicyError(foreign, 'BP_ERR_PLUGIN_HOOK'))
  t.notOk(new Error('plain') instanceof BootpolicyError)
  t.notOk(isBootpolicyError(own, 'BP_ERR_PLUGIN_HOOK'))
  const unknown = new BootpolicyError('BP_ERR_FROM_A_NEWER_CATALOG' as never, { details: 'kept' })
  t.equal(unknown.message, 'BP_ERR_FROM_A_NEWER_CATALOG kept', 'an unknown code still makes a readable error')
})
