/**
 * smartos: boot SmartOS platform builds served from a directory (seed 002).
 *
 * setup scans `root` for builds; `enrich` gives policies the list, newest first, as
 * `ctx.plugins.smartos.builds`; the decision kind `smartos.boot` renders the multiboot kernel with
 * its `-B` boot arguments and the boot archive as a module. The root password hash comes from the
 * options only, never from a policy or a client. See README.md.
 */
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Checker, definePlugin, type BootContext, type Decision, type IpxeScript } from 'bootpolicy/plugin'
import { ARCHIVE_PATH, BUILD_NAME, KERNEL_PATH, scanBuilds } from './scan-builds.js'

export interface SmartosOptions {
  /** Directory of platform builds: `<root>/<build>/platform/…`. Relative to the config file. */
  root: string
  /** URL prefix where `root` is served, e.g. `/files/smartos` or `http://10.1.1.7/smartos`. */
  urlPrefix: string
  /** SmartOS console: `text` (VGA), `graphics` or a serial port `ttya`…`ttyd`. */
  console: string
  /** Crypt hash for root (`$5$salt$hash`), passed as `root_shadow='…'`. */
  rootShadow: string
  /** Rescan the directory this often; 0 scans only at start. */
  rescanMs: number
}

export interface SmartosBootDecision {
  readonly kind: 'smartos.boot'
  readonly build: string
  /** Boot without importing the zones pool (`noimport=true`): for recovery. */
  readonly noimport?: boolean
}

const helpersFile = fileURLToPath(new URL(`./policy-helpers${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url))

export const optionsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['root', 'urlPrefix', 'rootShadow'],
  properties: {
    root: { type: 'string', minLength: 1 },
    urlPrefix: { type: 'string', minLength: 1, maxLength: 1024, pattern: '^[^\\s${}]+$' },
    console: { type: 'string', enum: ['text', 'graphics', 'ttya', 'ttyb', 'ttyc', 'ttyd'], default: 'text' },
    // A crypt(3) hash: `$id$[rounds=N$]salt$hash`. No quote, comma or whitespace can end the -B list.
    rootShadow: { type: 'string', pattern: '^\\$[0-9a-z]{1,3}\\$[./0-9A-Za-z=$]{8,200}$' },
    rescanMs: { type: 'integer', minimum: 0, maximum: 86_400_000, default: 60_000 },
  },
}

export default definePlugin((options: SmartosOptions) => {
  let builds: string[] = []
  // Bumped when the build list changes: enrich depends on nothing else, so responses stay cacheable.
  let generation = 0
  let root = ''
  let timer: NodeJS.Timeout | undefined
  const prefix = (): string => options.urlPrefix.replace(/\/+$/, '')

  return {
    name: 'smartos',
    version: '0.1.0',
    bootpolicy: '^0.1.0',
    schema: optionsSchema,
    policyHelpers: helpersFile,
    revision: () => String(generation),

    async setup(api) {
      const baseDir = api.baseDir
      root = resolve(baseDir, options.root)
      const scan = async (): Promise<void> => {
        const found = await scanBuilds(root)
        for (const problem of found.problems) api.logger.warn({ root, problem }, 'smartos build skipped')
        if (found.builds.join() !== builds.join()) api.logger.info({ root, builds: found.builds }, 'smartos builds')
        if (found.builds.join() !== builds.join()) generation++
        builds = found.builds
      }
      await scan()
      if (builds.length === 0) api.logger.warn({ root }, 'no SmartOS build found; smartos.boot decisions will be refused')
      if (options.rescanMs > 0) {
        timer = setInterval(() => {
          scan().catch((err: unknown) => api.logger.warn({ root, err }, 'smartos rescan failed; keeping the last list'))
        }, options.rescanMs)
        timer.unref()
      }
    },

    hooks: {
      async enrich(_ctx: BootContext) {
        return { builds: [...builds] }
      },
    },

    decisionKinds: {
      boot: {
        validate(d, path, problems) {
          const v = new Checker(d, path, problems)
          v.string('build', true)
          v.boolean('noimport')
          v.only('build', 'noimport')
          if (typeof d.build !== 'string' || d.build === '') return
          if (!BUILD_NAME.test(d.build)) problems.push(`${path}.build: expected a build name like 20130808T195337Z`)
          else if (!builds.includes(d.build)) problems.push(`${path}.build: unknown build "${d.build}" (known: ${builds.slice(0, 5).join(', ') || 'none'})`)
        },
        render(decision: Decision, s: IpxeScript, _env, failLabel: string) {
          const d = decision as unknown as SmartosBootDecision
          const base = `${prefix()}/${d.build}`
          const bootArgs = [`console=${options.console}`, `root_shadow='${options.rootShadow}'`, 'smartos=true']
          if (d.noimport) bootArgs.push('noimport=true')
          // `$` in the hash routes the list through a hex setting: iPXE hands the kernel the exact bytes.
          s.commandOr(failLabel, 'kernel', s.arg('kernel', `${base}/${KERNEL_PATH}`), '-B', s.arg('smartos boot arguments', bootArgs.join(',')))
          s.commandOr(failLabel, 'module', s.arg('module', `${base}/${ARCHIVE_PATH}`))
          s.commandOr(failLabel, 'boot')
        },
      },
    },

    async close() {
      clearInterval(timer)
    },
  }
})
