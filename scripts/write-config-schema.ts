// Regenerates config.schema.json (published in the package) from core/config/config-schema.ts.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../core/config/load-config.js'
import { PUBLISHED_SCHEMA_FILE, publishedConfigSchemaText } from '../core/config/published-schema.js'

writeFileSync(join(PACKAGE_ROOT, PUBLISHED_SCHEMA_FILE), publishedConfigSchemaText())
