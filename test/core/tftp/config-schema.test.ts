import t from 'tap'
import { Ajv } from 'ajv'
import { resolveTftpConfig, tftpConfigDefaults, tftpConfigSchema } from '../../../core/tftp/config-schema.js'
import { isBootpolicyError } from '../../../core/errors/bp-error.js'

t.test('an empty object gets every default', async (t) => {
  t.same(resolveTftpConfig({}), tftpConfigDefaults)
  t.equal(resolveTftpConfig().enabled, false, 'off unless enabled')
  t.equal(resolveTftpConfig().port, 69)
  t.equal(resolveTftpConfig().blksizeMax, 1468)
  t.equal(resolveTftpConfig().windowsizeMax, 4)
})

t.test('the schema compiles in strict draft-07 ajv on its own (for the app-wide config)', async (t) => {
  const validate = new Ajv({ strict: true, useDefaults: true }).compile(tftpConfigSchema)
  const value = { port: 1069 }
  t.ok(validate(value))
  t.equal((value as Record<string, unknown>).root, '/srv/tftp')
})

t.test('bad values are all reported with BP_ERR_CONFIG_INVALID', async (t) => {
  try {
    resolveTftpConfig({ port: 70000, blksizeMax: 4, windowsizeMax: 0, maxConnections: 0, bogus: 1 } as never)
    t.fail('should throw')
  } catch (err) {
    t.ok(isBootpolicyError(err, 'BP_ERR_CONFIG_INVALID'))
    const message = (err as Error).message
    for (const key of ['tftp/port', 'tftp/blksizeMax', 'tftp/windowsizeMax', 'tftp/maxConnections', 'additional properties']) t.match(message, key)
  }
})
