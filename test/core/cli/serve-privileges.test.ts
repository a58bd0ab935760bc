/**
 * Dropping privileges: the real CLI started as root binds HTTP :80, TFTP :69 and proxyDHCP :67/:4011
 * (on a loopback address of its own), then switches to a test user (created with useradd, removed
 * after). /proc/<pid>/status must show that user, and HTTP and TFTP must still answer. The server
 * drops only after every module is loaded, so it never reads the repository as that user; its
 * config, policies and files live in a temp dir the user can read. Needs root, curl, useradd.
 */
import t from 'tap'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../../core/config/load-config.js'
import { requireCommand, requireRoot } from '../../helpers/e2e-require.js'
import { createPamUser } from '../../helpers/pam-user.js'
import { clientPacket } from '../../helpers/dhcp-packets.js'
import { encode } from '../../../core/dhcp/packet-codec.js'
import { MessageType, Opt } from '../../../core/dhcp/options.js'
import dgram from 'node:dgram'

const ADDRESS = '127.66.6.6'

function tempSite(): { dir: string; config(extra: Record<string, unknown>): string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'bp-priv-'))
  chmodSync(dir, 0o755) // mkdtemp makes it 0700: the dropped user must be able to read policies
  for (const d of ['policies', 'templates', 'tftp']) mkdirSync(join(dir, d))
  writeFileSync(join(dir, 'tftp', 'ipxe.efi'), 'pretend ipxe')
  return {
    dir,
    config(extra) {
      const file = join(dir, `config-${Math.random().toString(16).slice(2)}.json`)
      writeFileSync(file, JSON.stringify({ policies: { dir: 'policies' }, templates: { dir: 'templates' }, stateDir: 'state', log: { level: 'info' }, ...extra }))
      return file
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}

/** `node --no-node-snapshot bin/bootpolicy.js serve` directly, so its pid is the server's. */
function serve(config: string): { child: ChildProcess; started: Promise<string>; exited: Promise<{ code: number | null; out: string; err: string }> } {
  // Through `env -i`: tap wraps node children (spawn and NODE_OPTIONS) with hooks that write into the
  // repository at exit, which the dropped user may not be able to do (the clone may sit under /root).
  const env = requireCommand('env', 'coreutils')
  const child = spawn(env, ['-i', `PATH=${process.env.PATH ?? '/usr/bin:/bin'}`, process.execPath, '--no-node-snapshot', join(PACKAGE_ROOT, 'bin/bootpolicy.js'), 'serve', '--config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  const exited = new Promise<{ code: number | null; out: string; err: string }>((resolve) => child.on('close', (code) => resolve({ code, out, err })))
  const started = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c
      if (out.includes('bootpolicy is serving')) resolve(out)
    })
    child.stderr!.on('data', (c: Buffer) => (err += c))
    void exited.then((r) => reject(new Error(`serve exited (${r.code}): ${r.err}`)))
  })
  started.catch(() => undefined)
  return { child, started, exited }
}

function statusIds(pid: number): { uid: string; gid: string; groups: string } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const field = (name: string): string => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? ''
  return { uid: field('Uid'), gid: field('Gid'), groups: field('Groups') }
}

/** A PXE REQUEST to the proxyDHCP port 4011; resolves with the first reply's bytes (or undefined after 3 s). */
async function pxeRequest(): Promise<Buffer | undefined> {
  const socket = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  const packet = encode(
    clientPacket({
      mac: '02:00:00:00:66:01',
      xid: 0x6601,
      type: MessageType.REQUEST,
      ciaddr: '127.0.0.1',
      broadcast: false,
      options: [
        [Opt.VENDOR_CLASS, 'PXEClient:Arch:00007:UNDI:003016'],
        [Opt.CLIENT_ARCH, Buffer.from([0, 7])],
        [Opt.PARAM_LIST, Buffer.from([1, 3, 43, 60, 66, 67])],
      ],
    }),
  )
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.close()
      resolve(undefined)
    }, 3000)
    socket.once('message', (msg) => {
      clearTimeout(timer)
      socket.close()
      resolve(msg)
    })
    socket.send(packet, 4011, ADDRESS)
  })
}

function httpGet(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: ADDRESS, port: 80, path, agent: false, timeout: 5000 }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end()
  })
}

const ports = (site: string, extra: Record<string, unknown> = {}) => ({
  http: { host: ADDRESS, port: 80 },
  tftp: { enabled: true, address: ADDRESS, port: 69, root: join(site, 'tftp') },
  dhcp: { mode: 'proxy', listenAddress: ADDRESS, serverAddress: ADDRESS },
  ...extra,
})

// serve type-checks its policies before it listens: on a busy shared machine that takes minutes.
t.setTimeout(600_000)

t.test('serve binds 80, 69, 67 and 4011 as root, then runs as the configured user', async (t) => {
  requireRoot('dropping privileges')
  const curl = requireCommand('curl', 'curl')
  const user = createPamUser()
  t.teardown(() => user.remove())
  const site = tempSite()
  t.teardown(() => site.remove())
  const uid = execFileSync(requireCommand('id', 'coreutils'), ['-u', user.username], { encoding: 'utf8' }).trim()
  const gid = execFileSync('id', ['-g', user.username], { encoding: 'utf8' }).trim()

  const run = serve(site.config(ports(site.dir, { user: user.username, group: user.username })))
  t.teardown(() => run.child.kill('SIGKILL'))
  await run.started
  const ids = statusIds(run.child.pid!)
  t.equal(ids.uid, `${uid}\t${uid}\t${uid}\t${uid}`, 'real, effective, saved and fs uid are the user')
  t.equal(ids.gid, `${gid}\t${gid}\t${gid}\t${gid}`, 'and the gids its group')
  t.notMatch(` ${ids.groups} `, / 0 /, 'no supplementary group root')
  t.equal(await httpGet('/healthz'), 200, 'HTTP on port 80 still answers')
  t.equal(await httpGet('/boot?mac=52:54:00:00:00:01'), 200, '/boot too')
  const out = join(site.dir, 'fetched')
  execFileSync(curl, ['-sS', '--max-time', '10', '-o', out, `tftp://${ADDRESS}/ipxe.efi`])
  t.equal(readFileSync(out, 'utf8'), 'pretend ipxe', 'TFTP on port 69 still answers')
  const ack = await pxeRequest()
  t.equal(ack?.[0], 2, 'proxyDHCP on port 4011 still answers (a BOOTREPLY)')
  const state = statSync(join(site.dir, 'state'))
  t.equal(String(state.uid), uid, 'the stateDir it created belongs to the user')
  // The last good policies are written after the drop, as the user, so that it can replace them.
  t.equal(String(statSync(join(site.dir, 'state', 'policies')).uid), uid, 'the last-good store belongs to the user')
  run.child.kill('SIGTERM')
  const end = await run.exited
  t.equal(
    end.code,
    0,
    `stops cleanly on SIGTERM ${end.err}${end.out
      .split('\n')
      .filter((l) => l.includes('"level":60'))
      .join(' ')}`,
  )
  t.match(end.out, /"msg":"privileges dropped"/)
})

t.test('serve refuses to keep running as root when the drop fails', async (t) => {
  requireRoot('dropping privileges')
  const site = tempSite()
  t.teardown(() => site.remove())
  const unknown = serve(site.config(ports(site.dir, { user: 'bp-no-such-user', group: 'bp-no-such-group' })))
  t.teardown(() => unknown.child.kill('SIGKILL'))
  const r1 = await unknown.exited
  t.equal(r1.code, 1, 'unknown user: exit 1')
  t.match(r1.err, /BP_ERR_SERVER_PRIVILEGES: Cannot drop privileges to bp-no-such-user:bp-no-such-group/)

  const user = createPamUser()
  t.teardown(() => user.remove())
  mkdirSync(join(site.dir, 'locked'), { mode: 0o755 }) // root's, not writable by the user
  const locked = serve(site.config(ports(site.dir, { user: user.username, group: user.username, stateDir: 'locked' })))
  t.teardown(() => locked.child.kill('SIGKILL'))
  const r2 = await locked.exited
  t.equal(r2.code, 1, 'stateDir not writable by the user: exit 1')
  t.match(r2.err, /stateDir .*locked is not writable by this user/)
})
