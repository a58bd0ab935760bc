/**
 * A server for the files benchmark, run as a child process so that the load generator and the
 * server do not share a thread: bootpolicy with its default configuration serving `files.dir`
 * (argv[2]) at /files/. Logs go where stdout goes (the bench points it at /dev/null); `{"port": N}`
 * goes to fd 3.
 */
import { writeSync } from 'node:fs'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { validateConfig, PACKAGE_ROOT } from '../../core/config/load-config.js'
import { build } from '../../core/http/build-app.js'

const dir = process.argv[2]
if (!dir) throw new Error('usage: files-server.ts FILES_DIR')
// The default configuration, except what a benchmark from one address needs.
const config = validateConfig(
  {
    policies: { dir: mkdtempSync(join(tmpdir(), 'bp-bench-nopolicy-')), watch: false },
    files: { dir },
    http: { host: '127.0.0.1', port: 0, maxConnectionsPerAddress: 1000 },
  },
  PACKAGE_ROOT,
)
const bp = await build(config)
await bp.app.listen({ host: '127.0.0.1', port: 0 })
writeSync(3, `${JSON.stringify({ port: (bp.app.server.address() as { port: number }).port })}\n`)
