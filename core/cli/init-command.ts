/**
 * bootpolicy init [DIR]: a site directory that works outside this repository — a config with
 * `$schema`, one example policy with its test, templates/ and files/, and a tsconfig.json that
 * points at the installed package's types, so that an editor, `tsc` and `bootpolicy check` agree.
 * It writes only into an empty or new directory: it never overwrites an admin's files.
 */
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { PACKAGE_ROOT } from '../config/load-config.js'
import { PUBLISHED_SCHEMA_FILE } from '../config/published-schema.js'
import { BootpolicyError } from '../errors/bp-error.js'
import { defaultImportables } from '../policy/compile-policy.js'
import { POLICY_COMPILER_OPTIONS, typesFileOf } from '../policy/type-check.js'

const runningFromDist = import.meta.url.includes('/dist/')

const EXAMPLE_POLICY = `/**
 * Example policy: machines listed by MAC boot a kernel from files/; every other machine is left
 * to the next policy, and in the end to "default" in bootpolicy.json. Policies run in a sandbox:
 * no I/O, no Node APIs. \`bootpolicy test\` runs 10-by-mac.test.ts; \`bootpolicy check\` type-checks.
 */
import { boot, type BootContext, type Decision } from 'bootpolicy/policy'

interface Machine {
  readonly hostname: string
}

const machines: Readonly<Record<string, Machine>> = {
  '00:16:3e:00:00:01': { hostname: 'web01' },
}

export default function byMac(ctx: BootContext): Decision | undefined {
  const machine = ctx.mac ? machines[ctx.mac] : undefined
  if (!machine) return undefined
  return boot('/files/vmlinuz', { initrds: ['/files/initrd.img'], args: [\`hostname=\${machine.hostname}\`] })
}
`

const EXAMPLE_TEST = `import { cases } from 'bootpolicy/policy'

// One case per line: wire-format request fields in, a (partial) expected decision out; null: no decision.
export default cases([
  { name: 'web01 boots its kernel from files/', request: { mac: '00:16:3e:00:00:01' }, expect: { kind: 'boot', kernel: '/files/vmlinuz', args: ['hostname=web01'] } },
  { name: 'the MAC in upper case with hyphens matches too', request: { mac: '00-16-3E-00-00-01' }, expect: { kind: 'boot' } },
  { name: 'unknown machines are left to the next policy', request: { mac: '00:16:3e:00:00:99' }, expect: null },
])
`

const TEMPLATES_README = `iPXE templates (*.ipxe, Eta syntax) that policies select with template('name', vars).
See docs/reference/decisions.md in the bootpolicy package.
`

/** Where a policy's imports find their types in the installed package. */
export function siteTypePaths(): Record<string, string[]> {
  const policyApi = typesFileOf(defaultImportables().get('bootpolicy/policy')!)
  const helpers = runningFromDist ? join(PACKAGE_ROOT, 'dist', 'plugins', '*', 'policy-helpers.d.ts') : join(PACKAGE_ROOT, 'plugins', '*', 'policy-helpers.ts')
  return { 'bootpolicy/policy': [policyApi], 'bootpolicy/plugins/*': [helpers] }
}

export function siteFiles(siteDir: string): Record<string, string> {
  const schema = relative(siteDir, join(PACKAGE_ROOT, PUBLISHED_SCHEMA_FILE))
  const config = {
    $schema: schema,
    http: { port: 8080 },
    policies: { dir: 'policies' },
    templates: { dir: 'templates' },
    files: { dir: 'files' },
    stateDir: 'var',
    default: { kind: 'exit' },
    plugins: [],
  }
  const tsconfig = {
    compilerOptions: { ...POLICY_COMPILER_OPTIONS, paths: siteTypePaths() },
    include: ['policies'],
  }
  return {
    'bootpolicy.json': `${JSON.stringify(config, null, 2)}\n`,
    'tsconfig.json': `${JSON.stringify(tsconfig, null, 2)}\n`,
    'policies/10-by-mac.ts': EXAMPLE_POLICY,
    'policies/10-by-mac.test.ts': EXAMPLE_TEST,
    'templates/README': TEMPLATES_README,
    'files/.keep': '',
    '.gitignore': 'var/\n',
  }
}

export function initCommand(target: string): number {
  const dir = resolve(target)
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new BootpolicyError('BP_ERR_CLI_USAGE', { details: `${dir} exists and is not a directory` })
    if (readdirSync(dir).length > 0) throw new BootpolicyError('BP_ERR_CLI_USAGE', { details: `${dir} is not empty; bootpolicy init writes only into an empty or new directory` })
  }
  for (const [name, text] of Object.entries(siteFiles(dir))) {
    const file = join(dir, name)
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, text, { flag: 'wx' })
  }
  const cd = relative(process.cwd(), dir) || '.'
  process.stdout.write(`Created a bootpolicy site in ${dir}:
  bootpolicy.json               config (your editor completes it through "$schema")
  policies/10-by-mac.ts         example policy, and 10-by-mac.test.ts its tests
  templates/, files/            iPXE templates; static files served at /files/
  tsconfig.json                 types of bootpolicy/policy and plugin helpers for your editor and tsc

Next:
  cd ${cd}
  bootpolicy check              config, plugins, policies (type-checked), templates
  bootpolicy test               the policy tests
  bootpolicy serve              then chain http://<this-host>:8080/boot.ipxe from iPXE
`)
  return 0
}
