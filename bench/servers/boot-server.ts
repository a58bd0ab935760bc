/**
 * A server for the HTTP benchmarks, run as a child process so that the load generator and the
 * server do not share a CPU. Modes:
 * - `bare`: a fastify route that switches on the MAC and returns a fixed script (the baseline): the
 *   very menu bootpolicy answers these clients with, so both send the same bytes;
 * - `bootpolicy`: bootpolicy with the example policies;
 * - `bootpolicy-loop`: the example policies plus one that loops on 1% of the MACs.
 * Prints `{"port": N}` on stdout when it listens.
 */
import { mkdtempSync, writeFileSync, cpSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import { validateConfig, PACKAGE_ROOT } from '../../core/config/load-config.js'
import { build } from '../../core/http/build-app.js'

const mode = process.argv[2] ?? 'bootpolicy'

async function bare(): Promise<number> {
  const app = Fastify({ logger: false })
  // The answer the example policies give the bench clients, rendered once by bootpolicy itself.
  const config = validateConfig({ policies: { dir: join(PACKAGE_ROOT, 'policies'), watch: false }, log: { level: 'silent' } }, PACKAGE_ROOT)
  const bp = await build(config)
  const script = (await bp.engine.handle({ query: 'mac=52:54:00:00:01:00&buildarch=x86_64&platform=efi', remoteAddress: '127.0.0.1', requestId: 'bench00000' })).script
  await bp.close()
  app.get('/boot', async (req, reply) => {
    const mac = (req.query as Record<string, string>).mac
    return reply.type('text/plain').send(mac === '00:11:22:33:44:55' ? '#!ipxe\nsanboot iscsi:x\n' : script)
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  return (app.server.address() as { port: number }).port
}

async function bootpolicy(withLoop: boolean): Promise<number> {
  let dir = join(PACKAGE_ROOT, 'policies')
  if (withLoop) {
    dir = mkdtempSync(join(tmpdir(), 'bp-bench-'))
    cpSync(join(PACKAGE_ROOT, 'policies'), dir, { recursive: true })
    // Loops on MACs whose last octet is 00..09 out of 00..ff-ish: 10 of the 1000 bench MACs.
    writeFileSync(join(dir, '05-loop.ts'), `export default function (ctx: any) { if (ctx.mac && /:00:0[0-9]:00$/.test(ctx.mac)) { for (;;) {} } return undefined }\n`)
  }
  const config = validateConfig({ policies: { dir, watch: false }, log: { level: 'silent' }, http: { host: '127.0.0.1', port: 0 } }, PACKAGE_ROOT)
  const bp = await build(config)
  await bp.app.listen({ host: '127.0.0.1', port: 0 })
  return (bp.app.server.address() as { port: number }).port
}

const port = mode === 'bare' ? await bare() : await bootpolicy(mode === 'bootpolicy-loop')
process.stdout.write(`${JSON.stringify({ port })}\n`)
