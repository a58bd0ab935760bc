/**
 * Run bootpolicy in a TestNet with a migration guide's own config and policies
 * (writeGuideFixture), so that the e2e scenario proves the guide as written. Only test plumbing is
 * added on top, in a second file beside the guide's: debug logging (the DHCP reply lines), a state
 * dir in the site, no policy watcher, a longer policy timeout. Everything else — addresses, interface, folders, MACs — comes
 * from the guide through explicit substitutions.
 */
import { copyFileSync, linkSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { type BootpolicyServer, serveConfig } from './e2e-bootpolicy.js'
import type { TestNet } from './e2e-net.js'
import { writeGuideFixture } from './guide-fixture.js'

export interface GuideServerOptions {
  readonly net: TestNet
  /** Path of the guide (docs/guides/….md). */
  readonly guide: string
  /** Literal text of the guide's blocks → the test's value (see writeGuideFixture). */
  readonly substitutions: Readonly<Record<string, string>>
  /** The site directory the guide's files are written to (default <net.dir>/site). */
  readonly siteDir?: string
  /** Files to place, site-relative target → source path (hard link, else copy). */
  readonly files?: Readonly<Record<string, string>>
  /** The server's base URL for requests from the test, e.g. http://<serverIp>:80 */
  readonly url: string
  /**
   * Test-only keys merged over the guide's config (objects merged recursively, arrays replaced);
   * a function gets the site directory and the guide's config, for values built from the guide's
   * other blocks.
   */
  readonly overrides?: Readonly<Record<string, unknown>> | ((site: { dir: string; config: Readonly<Record<string, unknown>> }) => Readonly<Record<string, unknown>>)
  /** Process and log name (default `bootpolicy`). */
  readonly name?: string
  readonly spawnPrefix?: readonly string[]
}

export interface GuideServer extends BootpolicyServer {
  readonly siteDir: string
  /** The files the guide's blocks became, site-relative. */
  readonly guideFiles: readonly string[]
  /** The guide's config after substitution, before the test-only overrides. */
  readonly guideConfig: Readonly<Record<string, unknown>>
}

function merge(base: Record<string, unknown>, over: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base }
  for (const [k, v] of Object.entries(over)) {
    const cur = out[k]
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur) ? merge(cur as Record<string, unknown>, v as Record<string, unknown>) : v
  }
  return out
}

export async function startGuideBootpolicy(options: GuideServerOptions): Promise<GuideServer> {
  const { net } = options
  const siteDir = options.siteDir ?? join(net.dir, 'site')
  const guideFiles = Object.keys(writeGuideFixture(options.guide, siteDir, options.substitutions))
  if (!guideFiles.includes('bootpolicy.json')) throw new Error(`${options.guide}: no \`json file=bootpolicy.json\` block`)
  for (const [target, source] of Object.entries(options.files ?? {})) {
    const to = join(siteDir, target)
    mkdirSync(dirname(to), { recursive: true })
    try {
      linkSync(source, to)
    } catch {
      copyFileSync(source, to)
    }
  }
  const guideConfig = JSON.parse(readFileSync(join(siteDir, 'bootpolicy.json'), 'utf8')) as Record<string, unknown>
  const overrides = typeof options.overrides === 'function' ? options.overrides({ dir: siteDir, config: guideConfig }) : options.overrides
  const config = merge(
    merge(guideConfig, {
      log: { level: 'debug' },
      stateDir: join(siteDir, 'state'),
      // 1 s instead of 50 ms per policy call: with a load of 20 on these 2 cores (parallel QEMUs),
      // building a policy at start took longer and the worker watchdog replaced a worker (BPWRN004).
      policies: { watch: false, timeoutMs: 1000 },
    }),
    overrides ?? {},
  )
  // Beside the guide's file, so relative paths resolve the same way.
  const configFile = join(siteDir, 'bootpolicy.test.json')
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`)
  const server = await serveConfig({ net, configFile, config, name: options.name ?? 'bootpolicy', url: options.url, ...(options.spawnPrefix ? { spawnPrefix: options.spawnPrefix } : {}) })
  return { ...server, siteDir, guideFiles, guideConfig }
}
