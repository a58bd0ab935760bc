/** A throwaway site for the runtime tests: two marker plugins, one policy with a test, a config file. */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../core/config/load-config.js'

export interface MarkerSite {
  readonly dir: string
  readonly config: string
  /** Which marker files exist now, e.g. `facts.setup`, `prov.prepare`. */
  markers(): string[]
  clearMarkers(): void
  remove(): void
}

const MARKERS = ['facts.setup', 'facts.close', 'prov.setup', 'prov.prepare', 'prov.close']

export function markerSite(extra: Record<string, unknown> = {}): MarkerSite {
  const dir = mkdtempSync(join(tmpdir(), 'bp-runtime-'))
  mkdirSync(join(dir, 'policies'))
  mkdirSync(join(dir, 'templates'))
  writeFileSync(join(dir, 'policies', 'p.ts'), `export default (ctx: any) => (ctx.plugins?.['marker-facts']?.ready ? { kind: 'marker-provisioner.disk', disk: 'd1' } : { kind: 'exit' })\n`)
  writeFileSync(join(dir, 'policies', 'p.test.ts'), `export default [{ name: 'no facts: exit', request: { mac: '00:11:22:33:44:55' }, expect: { kind: 'exit' } }]\n`)
  const fixture = (name: string): string => join(PACKAGE_ROOT, 'test/fixtures/runtime', name, 'index.ts')
  const config = join(dir, 'bootpolicy.json')
  writeFileSync(
    config,
    JSON.stringify({
      http: { port: 0, host: '127.0.0.1' },
      policies: { dir: 'policies', workers: 1 },
      templates: { dir: 'templates' },
      stateDir: 'var',
      log: { level: 'silent' },
      plugins: [
        { name: 'marker-facts', path: fixture('marker-facts'), options: { marker: join(dir, 'facts') } },
        { name: 'marker-provisioner', path: fixture('marker-provisioner'), options: { marker: join(dir, 'prov') } },
      ],
      ...extra,
    }),
  )
  return {
    dir,
    config,
    markers: () => MARKERS.filter((m) => existsSync(join(dir, m))),
    clearMarkers: () => MARKERS.forEach((m) => rmSync(join(dir, m), { force: true })),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}
