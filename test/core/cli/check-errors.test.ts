/**
 * `bootpolicy check` (the built CLI, a child process) on broken sites: a config that is not JSON,
 * schema errors with their hints, a bad environment override, a template that does not parse.
 * Each problem is one `file:line:col: CODE message` line an editor can jump to. Needs `npm run build`.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import t from 'tap'
import { PACKAGE_ROOT } from '../../../core/config/load-config.js'
import { tempPolicies } from '../../helpers/policy-dir.js'

// Each case spawns the real CLI (node, TypeScript, isolated-vm); a loaded 2-core machine is slow.
t.setTimeout(600_000)

function check(config: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [join(PACKAGE_ROOT, 'bin/bootpolicy.js'), 'check', '--config', config], {
    encoding: 'utf8',
    timeout: 120_000,
    cwd: PACKAGE_ROOT,
    env: { ...process.env, ...env },
  })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

t.test('a config that is not JSON: file:line:col, the reason, the line and a caret; exit 1', async (t) => {
  const dir = tempPolicies()
  t.teardown(() => dir.remove())
  const config = join(dir.dir, 'broken.json')
  const tokenLine = '  "http": { "port": 8080, "adminToken": "tok-3f9a-never-shown" "host": "0.0.0.0" },'
  writeFileSync(config, `{\n${tokenLine}\n  "policies": { "dir": "policies" }\n}\n`)
  const r = check(config)
  t.equal(r.code, 1, r.err)
  const col = tokenLine.indexOf('"host"') + 1
  const shown = relative(PACKAGE_ROOT, config).startsWith('..') ? config : relative(PACKAGE_ROOT, config)
  const masked = tokenLine.replace('tok-3f9a-never-shown', '*'.repeat('tok-3f9a-never-shown'.length))
  t.equal(r.out, `${shown}:2:${col}: BP_ERR_CONFIG_READ not JSON: expected "," or "}"\n    2 | ${masked}\n      | ${' '.repeat(col - 1)}^\n1 error, 0 warnings\n`)
  t.notMatch(r.out + r.err, 'tok-3f9a-never-shown')
})

t.test('schema errors point at the key, with allowed values, types and the closest key', async (t) => {
  const dir = tempPolicies()
  t.teardown(() => dir.remove())
  const config = join(dir.dir, 'bad.json')
  writeFileSync(config, `{\n  "http": {\n    "prot": 8080,\n    "port": "8080"\n  },\n  "log": { "level": "loud" },\n  "policies": { "dir": "policies" }\n}\n`)
  const r = check(config, { BOOTPOLICY__policies__timeoutMs: 'fast' })
  t.equal(r.code, 1, r.err)
  const lines = r.out.trimEnd().split('\n')
  const at = (pattern: RegExp) => lines.find((l) => pattern.test(l)) ?? `(no line matching ${pattern})`
  t.match(at(/"prot"/), /bad\.json:3:5: BP_ERR_CONFIG_INVALID \/http: must NOT have additional properties "prot"; did you mean "port"\?$/)
  t.match(at(/\/http\/port/), /bad\.json:4:5: BP_ERR_CONFIG_INVALID \/http\/port: must be integer \(got a string\)$/)
  t.match(at(/\/log\/level/), /bad\.json:6:12: BP_ERR_CONFIG_INVALID \/log\/level: must be equal to one of the allowed values: "fatal", .*"silent" \(got "loud"\)$/)
  t.match(at(/timeoutMs/), /\/policies\/timeoutMs: must be integer \(got a string\) \(set by environment variable BOOTPOLICY__policies__timeoutMs\)$/)
  t.equal(lines.at(-1), '4 errors, 0 warnings')
})

t.test('a template that does not parse is reported with its file, line and code', async (t) => {
  const dir = tempPolicies({ 'a.ts': `export default () => undefined\n` })
  t.teardown(() => dir.remove())
  mkdirSync(join(dir.dir, 'templates', 'site'), { recursive: true })
  writeFileSync(join(dir.dir, 'templates', 'site', 'menu.ipxe'), '#!ipxe\n{{# vars.items }}\necho {{ . }}\n{{/ vars.item }}\n')
  const config = join(dir.dir, 'site.json')
  writeFileSync(config, JSON.stringify({ policies: { dir: 'policies' }, templates: { dir: 'templates' } }))
  const r = check(config)
  t.equal(r.code, 1, r.err)
  t.match(r.out, /templates\/site\/menu\.ipxe:4:1: BP_ERR_TEMPLATE_INVALID Template \S+menu\.ipxe:4 is invalid: \{\{\/vars\.item\}\} closes \{\{#vars\.items\}\} opened on line 2\n/)
})
