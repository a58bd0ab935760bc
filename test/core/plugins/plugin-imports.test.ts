/**
 * Plugins use bootpolicy only through its public entries, `bootpolicy/plugin` and `bootpolicy/policy`
 * (package.json "exports"): a plugin that reaches into core/ by relative path works inside this
 * repository and breaks (or silently loads a second copy of core) for a plugin installed from npm.
 * Every import, export-from, dynamic import and `declare module` of every plugin source file (tests
 * excluded) is checked, and the entries themselves must resolve the way a plugin resolves them.
 */
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { builtinModules, createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import ts from 'typescript'
import { PACKAGE_ROOT } from '../../../core/config/load-config.js'

const pluginsDir = join(PACKAGE_ROOT, 'plugins')
const PUBLIC = new Set(['bootpolicy/plugin', 'bootpolicy/policy'])
const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>
const dependencies = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})])

function sources(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) {
      if (name !== 'test' && name !== 'node_modules') out.push(...sources(path))
    } else if (/\.(ts|mts|js|mjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(path)
  }
  return out
}

/** Why a specifier in `file` is not allowed, or undefined. */
export function refusal(file: string, spec: string): string | undefined {
  if (spec.startsWith('node:') || builtinModules.includes(spec)) return undefined
  if (spec === 'bootpolicy' || spec.startsWith('bootpolicy/')) {
    // bootpolicy/plugins/<name> is how policies import plugin helpers; a plugin never needs it.
    return PUBLIC.has(spec) ? undefined : `${spec} is not a public entry (only ${[...PUBLIC].join(', ')})`
  }
  if (spec.startsWith('.') || spec.startsWith('/')) {
    const own = join(pluginsDir, relative(pluginsDir, file).split(sep)[0]!)
    const target = resolve(dirname(file), spec)
    return target === own || target.startsWith(own + sep) ? undefined : `${spec} reaches out of the plugin's directory (${relative(PACKAGE_ROOT, target)})`
  }
  const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!
  return dependencies.has(name) ? undefined : `${spec} is not a dependency of bootpolicy`
}

/** Every module specifier of a source file: imports, re-exports, import(), import types, `declare module`. */
function specifiers(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true)
  return [...info.importedFiles.map((f) => f.fileName), ...(info.ambientExternalModules ?? [])]
}

t.test('no plugin source imports bootpolicy other than through bootpolicy/plugin and bootpolicy/policy', async (t) => {
  const files = sources(pluginsDir)
  t.ok(files.length > 20, `${files.length} plugin source files scanned`)
  const bad: string[] = []
  let seen = 0
  for (const file of files) {
    for (const spec of specifiers(file)) {
      seen++
      const why = refusal(file, spec)
      if (why) bad.push(`${relative(PACKAGE_ROOT, file)}: ${why}`)
    }
  }
  t.ok(seen > 40, `${seen} specifiers checked`)
  t.same(bad, [], 'every plugin import goes through a public entry')
})

t.test('the scan refuses what it must (hostile specifiers)', async (t) => {
  const file = join(pluginsDir, 'ldap', 'index.ts')
  for (const spec of [
    '../../core/context/text-fields.js',
    '../../core/policy-api/index.js',
    '../iscsi-cow/names.js',
    '../../../etc/passwd',
    '/work/core/x.js',
    'bootpolicy/core/plugins/types.js',
    'bootpolicy',
    'bootpolicy/plugins/smartos',
    'left-pad',
  ]) {
    t.ok(refusal(file, spec), `refused: ${spec}`)
  }
  for (const spec of ['bootpolicy/plugin', 'bootpolicy/policy', './errors.js', 'node:fs', 'ldapts', 'fs']) t.equal(refusal(file, spec), undefined, `allowed: ${spec}`)
})

t.test('a declare module of a plugin is found by the scan', async (t) => {
  // ldap types its facts by augmenting bootpolicy/policy; before this slice it augmented core's file.
  t.ok(specifiers(join(pluginsDir, 'ldap', 'index.ts')).includes('bootpolicy/policy'))
})

t.test('bootpolicy/plugin and bootpolicy/policy resolve by self-reference, types and runtime, and carry what plugins import', async (t) => {
  const require = createRequire(join(pluginsDir, 'ldap', 'index.ts'))
  for (const entry of PUBLIC) {
    const runtime = fileURLToPath(import.meta.resolve(entry))
    t.ok(runtime.startsWith(join(PACKAGE_ROOT, 'dist') + sep), `${entry} runs from dist/ (${relative(PACKAGE_ROOT, runtime)})`)
    t.ok(existsSync(runtime), `${entry}: dist is built (npm run build)`)
    t.ok(require.resolve(entry), `${entry} resolves for CommonJS too`)
  }
  const host = { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler }
  for (const entry of PUBLIC) {
    const r = ts.resolveModuleName(entry, join(pluginsDir, 'ldap', 'index.ts'), host, ts.sys)
    t.match(r.resolvedModule?.resolvedFileName ?? '', /core\/(plugins\/types|policy-api\/index)\.ts$/, `${entry} types resolve to the source`)
  }
  // Every value a plugin imports from bootpolicy/plugin exists in the built entry (a stale dist/ fails here).
  const api = (await import('bootpolicy/plugin')) as Record<string, unknown>
  const wanted = new Set<string>()
  for (const file of sources(pluginsDir)) {
    for (const m of readFileSync(file, 'utf8').matchAll(/^import \{([^}]*)\} from 'bootpolicy\/plugin'/gm)) {
      for (const part of m[1]!.split(',')) {
        const name = part.trim()
        if (name && !name.startsWith('type ')) wanted.add(name.split(/\s+as\s+/)[0]!)
      }
    }
  }
  t.ok(wanted.has('USERNAME_PATTERN'), 'auth plugins import USERNAME_PATTERN from the public entry')
  for (const name of wanted) t.ok(api[name] !== undefined, `bootpolicy/plugin exports ${name}`)
})

t.test('no source names an optional dependency by literal specifier, so the build needs none of them', async (t) => {
  // kerberos and node-linux-pam build native code against libkrb5-dev and libpam0g-dev; without those
  // headers npm skips them, and a literal import() would make `npm install`'s build step fail (seen on
  // a fresh checkout). The plugins load them through a string-typed specifier instead.
  const optional = new Set(Object.keys(pkg.optionalDependencies ?? {}))
  t.ok(optional.has('kerberos') && optional.has('node-linux-pam'), 'the native auth packages are optional')
  const files = [...sources(pluginsDir), ...sources(join(PACKAGE_ROOT, 'core'))]
  const literal = files.flatMap((file) =>
    specifiers(file)
      .filter((s) => optional.has(s.split('/')[0]!))
      .map((s) => `${relative(PACKAGE_ROOT, file)}: ${s}`),
  )
  t.same(literal, [], 'no literal import of an optional package')
  t.ok(specifiers(join(pluginsDir, 'auth-kerberos', 'index.ts')).length > 0, 'the scan sees the plugin imports at all')
})
