/**
 * The config schema as the package publishes it (`bootpolicy/config.schema.json`), for editors:
 * `"$schema"` in bootpolicy.json points there. Generated from config-schema.ts by
 * `npm run schema`; test/core/config/published-schema.test.ts fails when the two drift apart.
 */
import { configSchema } from './config-schema.js'

export const PUBLISHED_SCHEMA_FILE = 'config.schema.json'

export function publishedConfigSchema(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://bootpolicy.invalid/config.schema.json',
    title: 'bootpolicy configuration (bootpolicy.json)',
    description: 'Every key is documented in docs/reference/config.md of the bootpolicy package.',
    ...structuredClone(configSchema),
  }
}

/** The file's exact text. */
export function publishedConfigSchemaText(): string {
  return `${JSON.stringify(publishedConfigSchema(), null, 2)}\n`
}
