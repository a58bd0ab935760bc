/**
 * Config errors a person reads: a file that is not JSON says where (file:line:col) and shows the
 * line with a caret; enum, type and range errors say what is allowed and what was given; an unknown
 * key gets the closest known one at any depth; a bad environment override names its variable.
 * None of them repeats a secret-looking value.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { configSchema } from '../../../core/config/config-schema.js'
import { loadConfig } from '../../../core/config/load-config.js'
import { jsonSyntaxFault } from '../../../core/config/json-syntax.js'
import { BootpolicyError } from '../../../core/errors/bp-error.js'

const dir = mkdtempSync(join(tmpdir(), 'bp-config-errors-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
let n = 0

/** The error loading `text` as a config file (with `env`), and the file's path. */
function failure(text: string, env: NodeJS.ProcessEnv = {}): { err: BootpolicyError; file: string } {
  const file = join(dir, `c${n++}.json`)
  writeFileSync(file, text)
  try {
    loadConfig({ file, env })
  } catch (err) {
    if (err instanceof BootpolicyError) return { err, file }
    throw err
  }
  throw new Error(`loaded: ${text.slice(0, 80)}`)
}

/** Every string anywhere in an error: message, stack, params, the whole cause chain. */
function everything(err: unknown, seen = new Set<unknown>()): string {
  if (err === null || typeof err !== 'object' || seen.has(err)) return String(err)
  seen.add(err)
  const e = err as Error & { params?: unknown; cause?: unknown }
  return [e.message, e.stack, JSON.stringify(e.params ?? {}), everything(e.cause, seen)].join('\n')
}

t.test('a file that is not JSON: file:line:col, the reason, the line and a caret', async (t) => {
  const cases: [string, string, number, number, RegExp][] = [
    ['trailing comma', '{\n  "http": { "port": 80, }\n}\n', 2, 25, /a comma before \} \(JSON allows no trailing comma\)/],
    ['double comma', '{\n  "http": {\n    "port": 80,,\n  }\n}', 3, 16, /expected a double-quoted key/],
    ['missing comma', '{\n  "log": { "level": "info" }\n  "http": {}\n}', 3, 3, /expected "," or "\}"/],
    ['a comment', '{\n  // the port\n  "http": {}\n}', 2, 3, /JSON has no comments/],
    ['single quotes', "{ 'http': {} }", 1, 3, /keys take double quotes, not single quotes/],
    ['a bare word', '{ "log": { "level": info } }', 1, 21, /expected a value/],
    ['cut short', '{ "http": { "port": 80', 1, 23, /expected "," or "\}" \(the file ends here\)/],
    ['an empty file', '', 1, 1, /expected a value \(the file ends here\)/],
    ['a raw newline in a string', '{ "policies": { "dir": "pol\nicies" } }', 1, 28, /a string holds a raw control character/],
    ['text after the value', '{}\n{}', 2, 1, /unexpected text after the end of the JSON value/],
  ]
  for (const [name, text, line, col, reason] of cases) {
    const { err, file } = failure(text)
    t.equal(err.code, 'BP_ERR_CONFIG_READ', name)
    const [head, where, shown, caret] = err.message.split('\n')
    t.equal(head, `Cannot read config file ${file}: not JSON`, name)
    t.ok(where!.startsWith(`${file}:${line}:${col}: `), `${name}: ${where}`)
    t.match(where, reason, name)
    const source = text.split('\n')[line - 1]!
    t.equal(shown, `${String(line).padStart(5)} | ${source}`, `${name}: the line is shown`)
    t.equal(caret, `      | ${' '.repeat(col - 1)}^`, `${name}: the caret is under column ${col}`)
    t.equal(err.cause, undefined, `${name}: V8's SyntaxError (which quotes the text) is not kept`)
  }
})

t.test('the scanner agrees with JSON.parse on what is valid', async (t) => {
  const valid = ['{}', '[]', '0', '-1.5e+3', '"\\u00e4\\n\\"\\\\"', '{"a":[1,{"b":null}],"c":true,"d":false}', ' \t\r\n{ } ']
  const invalid = ['01', '1.', '.5', '"\\x"', '"\\u12"', '[1 2]', '{"a"}', 'nul', 'truex', '"a', '[', '{"a":1', '\u00a0{}', 'NaN', 'Infinity', '{"a":1}}']
  for (const s of valid) t.equal(jsonSyntaxFault(s), undefined, `valid: ${s}`)
  for (const s of invalid) {
    t.throws(() => JSON.parse(s), `JSON.parse refuses ${s}`)
    t.ok(jsonSyntaxFault(s), `the scanner refuses ${s}`)
  }
})

t.test('hostile files: a deep nest, a 100 KB line, a byte order mark', async (t) => {
  const deep = failure(`{"http":${'['.repeat(100_000)}`)
  t.match(deep.err.message, /values are nested deeper than 1000/, 'no stack overflow')
  const long = failure(`{"stateDir": "${'x'.repeat(100_000)}" ,, }`)
  const [, first, shown, caret] = long.err.message.split('\n')
  t.match(first, /:1:100018: expected a double-quoted key/)
  t.ok(shown!.length < 140 && caret!.length < 140, 'the excerpt is cut to the neighbourhood of the caret')
  t.equal(shown!.slice(8)[caret!.indexOf('^') - 8], ',', 'and the caret still points at the fault')
  const file = join(dir, 'bom.json')
  writeFileSync(file, '\uFEFF{ "http": { "port": 9001 } }')
  t.equal(loadConfig({ file, env: {} }).http.port, 9001, "an editor's byte order mark is accepted")
})

t.test('a secret on the faulty line is masked in the excerpt and kept out of the error', async (t) => {
  const secret = 'Sup3r-s3cret-t0ken-value'
  const { err } = failure(`{ "http": { "adminToken": "${secret}" "port": 80 } }`)
  t.match(err.message, /expected "," or "\}"/)
  t.match(err.message, new RegExp(`"adminToken": "\\*{${secret.length}}" "port"`), 'masked to the same length, so the caret stays put')
  t.notMatch(everything(err), secret)
  const cut = failure(`{ "plugins": [{ "name": "ldap", "options": { "bindPassword": "${secret}`)
  t.notMatch(everything(cut.err), secret, 'an unclosed secret too')
})

t.test('an enum error lists the allowed values and what was given', async (t) => {
  const allowed = (configSchema.properties.log.properties.level.enum as readonly string[]).map((v) => JSON.stringify(v)).join(', ')
  const { err } = failure(JSON.stringify({ log: { level: 'verbose' }, policies: { onError: 42 } }))
  t.equal(err.code, 'BP_ERR_CONFIG_INVALID')
  t.match(err.message, `/log/level: must be equal to one of the allowed values: ${allowed} (got "verbose")`)
  t.match(err.message, '/policies/onError: must be equal to one of the allowed values: "failsafe", "next" (got 42)')
  const long = failure(JSON.stringify({ log: { level: 'x'.repeat(500) } }))
  t.match(long.err.message, /\(got a string\)/, 'a long value is named by its type, not repeated')
})

t.test('a type error says expected and got, without the value', async (t) => {
  const token = 'abcdefghijklmnop-not-shown'
  const { err } = failure(JSON.stringify({ http: { port: '8080', adminToken: [token] }, policies: { watch: 'yes', timeoutMs: 2.5 }, default: 'exit' }))
  t.match(err.message, '/http/port: must be integer (got a string)')
  t.match(err.message, '/http/adminToken: must be string (got an array)')
  t.match(err.message, '/policies/watch: must be boolean (got a string)')
  t.match(err.message, '/policies/timeoutMs: must be integer (got a number)')
  t.match(err.message, '/default: must be object (got a string)')
  t.notMatch(everything(err), token)
  const range = failure(JSON.stringify({ http: { port: 70000 }, policies: { memoryMb: 1 } }))
  t.match(range.err.message, '/http/port: must be <= 65535 (got 70000)')
  t.match(range.err.message, '/policies/memoryMb: must be >= 8 (got 1)')
})

t.test('an unknown key gets the closest known one, at any depth', async (t) => {
  const { err } = failure(
    JSON.stringify({
      htpp: {},
      http: { prot: 80 },
      policies: { timeoutMS: 10 },
      dhcp: { boot: { archMapp: {} } },
      plugins: [{ nmae: 'ldap' }],
      zzzzzzzz: 1,
    }),
  )
  t.match(err.message, '(root): must NOT have additional properties "htpp"; did you mean "http"?')
  t.match(err.message, '/http: must NOT have additional properties "prot"; did you mean "port"?')
  t.match(err.message, '/policies: must NOT have additional properties "timeoutMS"; did you mean "timeoutMs"?')
  t.match(err.message, '/dhcp/boot: must NOT have additional properties "archMapp"; did you mean "archMap"?')
  t.match(err.message, '/plugins/0: must NOT have additional properties "nmae"; did you mean "name"?')
  t.match(err.message, /\(root\): must NOT have additional properties "zzzzzzzz"(;|$)/m)
  t.notMatch(err.message, /"zzzzzzzz"; did you mean/, 'no suggestion when nothing is close')
  const huge = failure(JSON.stringify({ ['k'.repeat(10_000)]: 1 }))
  t.ok(huge.err.message.length < 400, `a 10,000-character key is cut short (${huge.err.message.length} characters)`)
})

t.test('a bad environment override names its variable, never its value', async (t) => {
  const { err } = failure('{}', {
    BOOTPOLICY__http__port: 'eighty',
    BOOTPOLICY__HTTP__PORT: '8081',
    BOOTPOLICY__log__level: 'loud',
    BOOTPOLICY__policies: '7',
    BOOTPOLICY__http__adminToken: '1234567890123456789',
  })
  t.match(err.message, '/http/port: must be integer (got a string) (set by environment variable BOOTPOLICY__http__port)')
  t.match(err.message, '(root): must NOT have additional properties "HTTP"; did you mean "http"? (set by environment variable BOOTPOLICY__HTTP__PORT)')
  t.match(err.message, '/log/level: must be equal to one of the allowed values')
  t.match(err.message, '(got "loud") (set by environment variable BOOTPOLICY__log__level)')
  t.match(err.message, '/policies: must be object (got an integer) (set by environment variable BOOTPOLICY__policies)')
  // A numeric token parses as a JSON number: the type error says so without printing it.
  t.match(err.message, '/http/adminToken: must be string (got an integer) (set by environment variable BOOTPOLICY__http__adminToken)')
  t.notMatch(everything(err), '1234567890123456789')
  const fromFile = failure(JSON.stringify({ http: { port: 'x' } }), { BOOTPOLICY__log__level: 'debug' })
  t.notMatch(fromFile.err.message, /set by environment variable/, 'a value from the file is not blamed on a variable')
})
