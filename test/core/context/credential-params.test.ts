/**
 * Credentials are found by the /boot decoder, from one list of names: the engine's "never memoize"
 * check and the log's URL redaction agree with what buildContext reads as a login.
 */
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildContext } from '../../../core/context/build-context.js'
import { CREDENTIAL_PARAMS, decodedKey, isCredentialParam, isSecretParam, queryHasCredentials } from '../../../core/context/credential-params.js'
import { parseIpxeQuery } from '../../../core/context/parse-ipxe-query.js'
import { redactUrl } from '../../../core/log/logger.js'
import { build } from '../../../core/http/build-app.js'
import { captureLogs } from '../../helpers/log-capture.js'
import { parseScript } from '../../helpers/ipxe-tokenize.js'
import { tempPolicies } from '../../helpers/policy-dir.js'

// Spellings of `username=alice&password=…` that the /boot decoder reads as a login.
const SPELLINGS = [
  'username=alice&password=pw-one-1',
  '%75sername=alice&password=pw-one-1',
  '%FFFFFF75sername=alice&%FFFFFF70assword=pw-one-1',
  'mac=52-54-00-00-00-01&%75%73%65%72%6e%61%6d%65=alice&%70assword=pw-one-1',
  'username_hex=61:6c:69:63:65&password_hex=70:77:2d:6f:6e:65:2d:31',
]

t.test('hazard: an escaped credential name gets past the credential check (every spelling buildContext reads is detected)', async (t) => {
  for (const q of SPELLINGS) {
    const built = buildContext({ query: parseIpxeQuery(q), remoteAddress: '127.0.0.1' })
    t.same(built.credentials, { username: 'alice', password: 'pw-one-1' }, `buildContext reads a login from ${q}`)
    t.equal(queryHasCredentials(q), true, `detected: ${q}`)
  }
  t.equal(queryHasCredentials('mac=52-54-00-00-00-01&serial_hex=41'), false)
  t.equal(queryHasCredentials(''), false)
  t.equal(queryHasCredentials(Array.from({ length: 70 }, (_, i) => `p${i}=1`).join('&')), true, 'too many parameters to look at: treated as carrying credentials')
})

t.test("hazard: iPXE's %FFFFFFxx key encoding gets password past log redaction", async (t) => {
  t.equal(redactUrl('/boot?mac=1&%FFFFFF70assword=hunter22x'), '/boot?mac=1&%FFFFFF70assword=[redacted]')
  t.equal(redactUrl('/boot?%70assword=hunter22x&PASSWORD=hunter22x&password_hex=41'), '/boot?%70assword=[redacted]&PASSWORD=[redacted]&password_hex=[redacted]')
  t.equal(redactUrl('/boot?username=alice&mac=1'), '/boot?username=alice&mac=1', 'names are not secrets')
  for (const name of ['password', 'password_hex', 'secret', 'chap_secret', 'token']) t.ok(isSecretParam(name), name)
})

t.test('hazard: a percent-encoded username key makes an authenticated answer memoized, and a replay skips authenticate and the limiter', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default (ctx: any) => ({ kind: 'exit', message: JSON.stringify(ctx.auth) })` })
  t.teardown(() => dir.remove())
  const file = join(dir.dir, 'counting.mjs')
  writeFileSync(
    file,
    `
    globalThis.__bpMemoCalls = 0
    export default () => ({ name: 'counting', version: '1.0.0', bootpolicy: '^0.1.0', hooks: {
      authenticate: async (ctx, c) => {
        globalThis.__bpMemoCalls++
        return c.password === 'pw-one-1' ? { principal: { name: c.username, groups: [], source: '' } } : { failed: 'wrong password' }
      } } })`,
  )
  const logs = captureLogs('info')
  const bp = await build(dir.config({ plugins: [{ name: 'counting', path: file }] }), { logger: logs.logger })
  t.teardown(() => bp.close())
  const calls = (): number => (globalThis as { __bpMemoCalls?: number }).__bpMemoCalls ?? 0
  const auth = async (q: string) =>
    JSON.parse(
      parseScript((await bp.app.inject(`/boot?${q}`)).body)
        .commands.find((c) => c.argv[0] === 'echo')!
        .argv.slice(1)
        .join(' '),
    ) as { status: string; reason?: string }

  for (const q of SPELLINGS) {
    const before = calls()
    t.match(await auth(q), { status: 'authenticated' })
    t.match(await auth(q), { status: 'authenticated' })
    t.equal(calls(), before + 2, `each request is authenticated, none replayed: ${q}`)
  }
  // A wrong password replayed in an escaped spelling still meets the limiter.
  const wrong = '%75sername=bob&%70assword=nope'
  for (let i = 0; i < 5; i++) t.match(await auth(wrong), { reason: 'wrong password' })
  t.match(await auth(wrong), { reason: /^too many failed attempts/ }, 'the sixth guess is limited, not served from a cache')
})

t.test('the unsplit check agrees with the pair-by-pair decode, and every credential name holds one of its words', async (t) => {
  for (const name of CREDENTIAL_PARAMS) t.match(name, /username|password|secret|token/i, `${name} is caught by the unsplit check`)
  const words = ['mac', 'serial_hex', 'User', 'PASSword', 'password_hex', 'chap-secret', 'x', 'token', '%75sername', 'pass%77ord', 'toke', 'n', '=', '', 'username', 'Secret']
  let seed = 7
  const pick = () => words[(seed = (seed * 1103515245 + 12345) % 2 ** 31) % words.length]!
  for (let i = 0; i < 5000; i++) {
    const query = Array.from({ length: 1 + (i % 9) }, () => `${pick()}${pick()}=${pick()}`).join('&')
    const slow = query.split('&').some((pair) => pair !== '' && isCredentialParam(decodedKey(pair)))
    if (queryHasCredentials(query) !== slow) t.fail(`differs on ${query}`)
  }
  t.equal(queryHasCredentials(Array.from({ length: 70 }, (_, i) => `p${i}=1`).join('&')), true, 'too many pairs without any credential word: still treated as carrying them')
})
