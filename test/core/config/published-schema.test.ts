/** config.schema.json (published in the package, named by "$schema") stays in step with core/config/config-schema.ts. */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import { PACKAGE_ROOT, validateConfig } from '../../../core/config/load-config.js'
import { PUBLISHED_SCHEMA_FILE, publishedConfigSchemaText } from '../../../core/config/published-schema.js'
import { siteFiles } from '../../../core/cli/init-command.js'

t.test('config.schema.json is exactly what config-schema.ts generates (npm run schema)', async (t) => {
  t.equal(readFileSync(join(PACKAGE_ROOT, PUBLISHED_SCHEMA_FILE), 'utf8'), publishedConfigSchemaText())
})

t.test('the package exports and ships it', async (t) => {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown>; files: string[] }
  t.equal(pkg.exports['./config.schema.json'], './config.schema.json')
  t.ok(pkg.files.includes('config.schema.json'))
})

t.test('the bootpolicy.json that init writes is valid for editors (the schema) and for bootpolicy ($schema accepted)', async (t) => {
  const text = siteFiles('/tmp/some-site')['bootpolicy.json']!
  const config = JSON.parse(text) as Record<string, unknown>
  const validate = new Ajv({ strict: false }).compile(JSON.parse(readFileSync(join(PACKAGE_ROOT, PUBLISHED_SCHEMA_FILE), 'utf8')) as object)
  t.ok(validate(structuredClone(config)), JSON.stringify(validate.errors))
  t.equal(validateConfig(config, '/tmp/some-site').policies.dir, '/tmp/some-site/policies')
  t.notOk(validate({ http: { port: 'eighty' } }), 'and it rejects what bootpolicy rejects')
})
