/**
 * Issue 10, secrets: a CHAP secret the plugin generates must never reach the log (through an
 * error's cause chain), the process list (argv of a command) or sudo's auth.log (the command line
 * of a privileged call). Against a real tgtd, with real commands.
 */
import t from 'tap'
import { chmodSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Writable } from 'node:stream'
import pino from 'pino'
import { chapSecret } from '../chap-secret.js'
import { iscsiEnv, iscsiInq, iscsiUrl } from './helpers.js'
import { scanProcesses } from './proc-scanner.js'

/** Every string reachable from a value: own properties (enumerable or not), causes, nested objects. */
function strings(value: unknown, seen = new Set<unknown>()): string[] {
  if (typeof value === 'string') return [value]
  if (typeof value === 'number' || typeof value === 'bigint') return [String(value)]
  if (typeof value !== 'object' || value === null || seen.has(value)) return []
  seen.add(value)
  const out: string[] = []
  for (const key of Reflect.ownKeys(value)) {
    out.push(String(key))
    out.push(...strings((value as Record<PropertyKey, unknown>)[key], seen))
  }
  return out
}

/** A pino logger with pino's own err serializer (cause chain included), capturing JSON lines. */
function captureLog(): { logger: pino.Logger; lines: () => string } {
  let text = ''
  const sink = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk)
      cb()
    },
  })
  // Plain pino on purpose, not the core's logger: the plugin's errors must be clean by themselves,
  // not only after the core scrubs registered secrets.
  return { logger: pino({ serializers: { err: pino.stdSerializers.err } }, sink), lines: () => text }
}

const helperTs = fileURLToPath(new URL('../bin/bootpolicy-tgt-helper.ts', import.meta.url))
const tsx = import.meta.resolve('tsx')

t.test('hazard: a failing account command leaks no CHAP secret (log lines, error, whole cause chain)', async (t) => {
  const env = await iscsiEnv()
  t.teardown(() => env.cleanup())
  const p = env.open()
  const { logger, lines } = captureLog()
  const failures: unknown[] = []

  // tgtd refuses the name: the account exists already.
  await env.tgtd.tgtadm('--mode', 'account', '--op', 'new', '--user', 'alice', '--password', 'OtherSecret12345')
  const refused = chapSecret()
  const e1 = await p.tgt.newAccount('alice', refused).then(
    () => undefined,
    (e: unknown) => e,
  )
  t.match(e1, { code: 'BP_ERR_ISCSI_COMMAND', message: /this account already exists/ }, 'tgtd refused the duplicate account')
  failures.push([refused, e1])

  // tgtd is gone.
  await env.tgtd.stop()
  const unreachable = chapSecret()
  const e2 = await p.tgt.newAccount('bob', unreachable).then(
    () => undefined,
    (e: unknown) => e,
  )
  t.match(e2, { code: 'BP_ERR_ISCSI_COMMAND' }, 'no tgtd: the account command fails')
  failures.push([unreachable, e2])

  for (const [secret, err] of failures as [string, unknown][]) {
    logger.error({ err }, 'iscsi disk not ready')
    const all = strings(err)
    t.ok(all.length > 3, 'the error has content to inspect')
    t.notOk(
      all.some((s) => s.includes(secret)),
      'no message, stack, cause or property of the error holds the secret',
    )
    t.notOk(String((err as Error).stack).includes(secret), 'the stack does not hold it')
  }
  const log = lines()
  t.equal(log.trim().split('\n').length, 2, 'two error lines logged')
  for (const line of log.trim().split('\n')) t.doesNotThrow(() => JSON.parse(line), 'each log line is JSON')
  t.notOk(log.includes(refused) || log.includes(unreachable), 'the captured log holds neither secret')
  t.match(log, /BP_ERR_ISCSI_COMMAND/, 'the log still says what failed')
})

t.test('hazard: the CHAP secret never shows in the process list while a disk is provisioned', async (t) => {
  const env = await iscsiEnv()
  t.teardown(() => env.cleanup())
  const p = env.open()
  await p.attach('fc29', 'alice') // the overlay and export exist: later logins are account work mostly
  const scanner = await scanProcesses()
  const secrets: string[] = []
  for (let i = 0; i < 25; i++) secrets.push((await p.attach('fc29', 'alice')).chapSecret)
  const { scans, seen } = await scanner.stop()
  const tgtadms = seen.filter((c) => /tgtadm .*--lld iscsi/.test(c))
  t.ok(tgtadms.length > 0, `the scanner is fast enough to catch tgtadm calls (${scans} scans, ${tgtadms.length} distinct tgtadm command lines seen)`)
  const leaked = seen.filter((c) => secrets.some((s) => c.includes(s)))
  t.same(
    leaked.map((c) => c.replace(/--password \S+/, '--password ***')),
    [],
    'no command line ever held a CHAP secret',
  )
  t.ok((await iscsiInq(iscsiUrl({ ...(await p.attach('fc29', 'alice')) }))).ok, 'the accounts created this way work for CHAP logins')
})

t.test('hazard: through a sudo-style commandPrefix the secret is in no argv and not in the auth.log stand-in', async (t) => {
  // sudo is not installed here: a prefix script stands in for it and, as sudo does in auth.log,
  // records the full command line of every privileged call before it runs it.
  const env0 = await iscsiEnv()
  t.teardown(() => env0.cleanup())
  const authLog = join(env0.dir, 'auth.log')
  const fakeSudo = join(env0.dir, 'fake-sudo')
  writeFileSync(fakeSudo, `#!/bin/sh\nprintf 'COMMAND=%s\\n' "$*" >> '${authLog}'\nexec "$@"\n`)
  chmodSync(fakeSudo, 0o755)
  writeFileSync(authLog, '')
  Object.assign(env0.options, {
    commandPrefix: [fakeSudo],
    tgtadm: { ...env0.options.tgtadm, accountHelper: [fakeSudo, process.execPath, '--import', tsx, helperTs] },
  })
  const p = env0.open()
  const scanner = await scanProcesses()
  const secrets: string[] = []
  for (let i = 0; i < 4; i++) secrets.push((await p.attach('fc29', 'alice')).chapSecret)
  const { seen } = await scanner.stop()
  const log = readFileSync(authLog, 'utf8')
  t.match(log, /COMMAND=\S*tgtadm -C \d+ --lld iscsi --mode target --op show/, 'the other privileged calls went through the prefix')
  t.match(log, /COMMAND=.*bootpolicy-tgt-helper\.ts$/m, 'account creation went through the helper, named in the log')
  t.notOk(
    secrets.some((s) => log.includes(s)),
    'the auth.log stand-in never holds a secret',
  )
  t.notMatch(log, /--password/, 'no privileged call carries --password')
  t.same(
    seen.filter((c) => secrets.some((s) => c.includes(s))),
    [],
    'no process list entry held a secret',
  )
  t.ok((await iscsiInq(iscsiUrl({ ...(await p.attach('fc29', 'alice')) }))).ok, 'the helper-made account works for a CHAP login')
})
