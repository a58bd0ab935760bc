/**
 * tgtd-control speaks tgtd's management protocol in place of tgtadm: checked against the real
 * tgtadm (the bytes it sends to a listening socket, the wording it prints for each error number)
 * and against a real tgtd. Also the helper's strict request parsing and the helper itself.
 */
import t from 'tap'
import { execFile, spawn } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { fileURLToPath } from 'node:url'
import { requireTools, startTgtd } from '../../../test/helpers/tgtd.js'
import { parseHelperRequest } from '../helper-request.js'
import { resolveOptions } from '../options.js'
import { encodeRequest, ERRORS, MODE, newAccount, OP, socketPath, type TgtdRequest } from '../tgtd-control.js'

/** A socket at tgtd's path for a free `port` (listen fails rather than replace a live one) that records each request and answers error number `err()`. */
async function fakeTgtd(port: number, err: () => number): Promise<{ requests: Buffer[]; close: () => void }> {
  const requests: Buffer[] = []
  const srv: Server = createServer((s) => {
    const chunks: Buffer[] = []
    s.on('data', (b: Buffer) => {
      chunks.push(b)
      const all = Buffer.concat(chunks)
      if (all.length >= 76 && all.length >= all.readUInt32LE(72)) {
        requests.push(all)
        const rsp = Buffer.alloc(8)
        rsp.writeUInt32LE(err(), 0)
        rsp.writeUInt32LE(8, 4)
        s.end(rsp)
      }
    })
  })
  await new Promise<void>((r) => srv.listen(socketPath(port), r))
  return {
    requests,
    close: () => {
      srv.close()
      rmSync(socketPath(port), { force: true })
    },
  }
}

function tgtadm(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve) => execFile('tgtadm', ['-C', String(port), '--lld', 'iscsi', ...args], (_e, _out, stderr) => resolve(stderr.trim())))
}

/** A control port no tgtd (of this or a parallel test run) uses: neither its socket nor its lock exists. */
function freeControlPort(): number {
  let port = 20000 + Math.floor(Math.random() * 12000)
  while ([socketPath(port), `${socketPath(port)}.lock`].some(existsSync)) port++
  return port
}

t.test('the request bytes are the ones tgt 1.0.85 tgtadm sends', async (t) => {
  requireTools('tgtadm')
  const port = freeControlPort()
  const fake = await fakeTgtd(port, () => 0)
  t.teardown(fake.close)
  const cases: [string[], TgtdRequest][] = [
    [
      ['--mode', 'account', '--op', 'new', '--user', 'alice', '--password', 'Secret1234567890'],
      {
        mode: MODE.account,
        op: OP.new,
        params: [
          ['user', 'alice'],
          ['password', 'Secret1234567890'],
        ],
      },
    ],
    [
      ['--mode', 'account', '--op', 'new', '--user', 'bp_guard_fc29-a.b', '--password', 'Zz09Zz09Zz09'],
      {
        mode: MODE.account,
        op: OP.new,
        params: [
          ['user', 'bp_guard_fc29-a.b'],
          ['password', 'Zz09Zz09Zz09'],
        ],
      },
    ],
    [['--mode', 'account', '--op', 'delete', '--user', 'alice'], { mode: MODE.account, op: OP.delete, params: [['user', 'alice']] }],
    [['--mode', 'target', '--op', 'show'], { mode: MODE.target, op: OP.show, params: [] }],
  ]
  for (const [args, req] of cases) {
    await tgtadm(port, ...args)
    t.same(encodeRequest(req).toString('hex'), fake.requests.at(-1)?.toString('hex'), `byte for byte: tgtadm ${args.slice(0, 4).join(' ')}`)
  }
  t.throws(() => encodeRequest({ mode: MODE.account, op: OP.new, params: [['user', 'a,password=x']] }), /split/, 'a value with "," could inject a parameter: refused')
})

t.test("tgtd's error numbers read as tgtadm words them", async (t) => {
  requireTools('tgtadm')
  const port = freeControlPort()
  let code = 0
  const fake = await fakeTgtd(port, () => code)
  t.teardown(fake.close)
  for (code = 1; code < ERRORS.length; code++) {
    const printed = await tgtadm(port, '--mode', 'target', '--op', 'show')
    t.equal(`tgtadm: ${ERRORS[code]}`, printed, `error ${code}`)
  }
})

t.test('against a real tgtd: accounts are created; refusals and a missing tgtd are clear errors', async (t) => {
  const tgtd = await startTgtd()
  t.teardown(() => tgtd.stop())
  const opts = { controlPort: tgtd.controlPort, timeoutMs: 5000 }
  await newAccount('alice', 'Secret1234567890', opts)
  t.match(await tgtd.tgtadm('--mode', 'account', '--op', 'show'), /Account list:\n\s+alice\n/)
  await t.rejects(newAccount('alice', 'Secret1234567890', opts), { code: 'BP_ERR_ISCSI_COMMAND', message: /this account already exists/ })
  await tgtd.stop()
  await t.rejects(newAccount('bob', 'Secret1234567890', opts), { code: 'BP_ERR_ISCSI_COMMAND', message: /can't talk to tgtd at \/var\/run\/tgtd\/socket\.\d+: ENOENT/ })
})

t.test('the helper accepts one strict request and nothing else', async (t) => {
  const ok = { op: 'account-new', user: 'alice', secret: 'Secret1234567890', controlPort: 3001 }
  t.same(parseHelperRequest(JSON.stringify(ok)), { user: 'alice', secret: 'Secret1234567890', controlPort: 3001 })
  t.same(parseHelperRequest(JSON.stringify({ ...ok, user: 'bp_guard_fc29-alice' })), { user: 'bp_guard_fc29-alice', secret: 'Secret1234567890', controlPort: 3001 })
  const refused: [unknown, RegExp][] = [
    ['not json', /not one JSON object/],
    [[ok], /not one JSON object/],
    [{ ...ok, path: '/etc/shadow' }, /unknown fields: "path"/],
    [{ ...ok, op: 'target-new' }, /op must be/],
    [{ ...ok, user: 'Alice' }, /not an iscsi-cow account name/],
    [{ ...ok, user: 'a,password=x' }, /not an iscsi-cow account name/],
    [{ ...ok, user: 'a..b' }, /not an iscsi-cow account name/],
    [{ ...ok, secret: 'short' }, /secret must be 12-16/],
    [{ ...ok, secret: 'Secret123456789,' }, /secret must be 12-16/],
    [{ ...ok, controlPort: 70000 }, /controlPort must be/],
  ]
  for (const [req, why] of refused) {
    const got = parseHelperRequest(typeof req === 'string' ? req : JSON.stringify(req))
    t.match(got, why, `refused: ${why}`)
    t.notOk(String(got).includes('Secret123456789'), 'a refusal never echoes the secret')
  }
})

t.test('the helper binary creates the account from stdin and refuses arguments', async (t) => {
  const tgtd = await startTgtd()
  t.teardown(() => tgtd.stop())
  const helper = [process.execPath, '--import', import.meta.resolve('tsx'), fileURLToPath(new URL('../bin/bootpolicy-tgt-helper.ts', import.meta.url))]
  const run = (input: string, extra: string[] = []): Promise<{ code: number | null; stderr: string }> =>
    new Promise((resolve) => {
      const child = spawn(helper[0]!, [...helper.slice(1), ...extra], { stdio: ['pipe', 'ignore', 'pipe'] })
      let stderr = ''
      child.stderr.on('data', (b: Buffer) => (stderr += b))
      child.stdin.on('error', () => undefined)
      child.on('close', (code) => resolve({ code, stderr }))
      child.stdin.end(input)
    })
  const req = JSON.stringify({ op: 'account-new', user: 'carol', secret: 'Secret1234567890', controlPort: tgtd.controlPort })
  t.same(await run(req), { code: 0, stderr: '' }, 'exit 0, nothing printed')
  t.match(await tgtd.tgtadm('--mode', 'account', '--op', 'show'), /\s+carol\n/, 'tgtd has the account')
  const dup = await run(req)
  t.equal(dup.code, 1, 'tgtd refused: exit 1')
  t.match(dup.stderr, /this account already exists/)
  t.notOk(dup.stderr.includes('Secret1234567890'), 'the refusal does not echo the secret')
  t.match(await run(req, ['--user', 'x']), { code: 2, stderr: /takes no arguments/ }, 'arguments refused')
  t.match(await run('{"op":"account-new"}'), { code: 2, stderr: /not an iscsi-cow account name/ })
})

t.test('commandPrefix without accountHelper is refused: the secret would need tgtadm --password', async (t) => {
  const base = { images: { fc29: { base: '/srv/fc29.img' } }, portal: { address: '127.0.0.1' }, hostname: 'h.example' }
  t.throws(() => resolveOptions({ ...base, commandPrefix: ['sudo', '-n'] }, { baseDir: '/', stateDir: '/tmp' }), { code: 'BP_ERR_PLUGIN_OPTIONS', message: /accountHelper/ })
  const o = resolveOptions({ ...base, commandPrefix: ['sudo', '-n'], tgtadm: { accountHelper: ['sudo', '-n', '/usr/local/lib/bootpolicy/bootpolicy-tgt-helper'] } }, { baseDir: '/', stateDir: '/tmp' })
  t.same(o.tgtadm.accountHelper, ['sudo', '-n', '/usr/local/lib/bootpolicy/bootpolicy-tgt-helper'])
})
