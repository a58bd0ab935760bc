/**
 * The namespace helper the network tests stand on: it cleans up after itself, even when the test
 * process dies, and a missing tool fails the test with the tool's name.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createLan, requireTool } from '../../helpers/netns.js'
import { nodeTs, REPO_ROOT } from '../../helpers/dhcp-server.js'

const run = promisify(execFile)
const namespaces = async (): Promise<string[]> =>
  (await run('ip', ['netns', 'list'])).stdout
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean)

t.test('a missing tool fails with its name', async (t) => {
  t.throws(() => requireTool('no-such-tool-bp', 'apt-get install no-such-tool'), { message: 'Required tool "no-such-tool-bp" is not installed (apt-get install no-such-tool)' })
  t.match(requireTool('ip'), /\/ip$/)
})

t.test('hosts on one bridge reach each other; close removes every namespace', async (t) => {
  const lan = await createLan(t, [
    { name: 'a', address: '10.44.0.1/24', mac: '02:00:00:00:44:01' },
    { name: 'b', address: '10.44.0.2/24' },
  ])
  t.same([lan.host('a').mac, lan.host('a').ip, lan.host('b').ip], ['02:00:00:00:44:01', '10.44.0.1', '10.44.0.2'])
  const { stdout } = await lan.exec('a', requireTool('busybox', 'apt-get install busybox-static'), ['ping', '-c', '1', '-W', '2', '10.44.0.2'])
  t.match(stdout, /1 packets received/)
  const { stdout: routes } = await lan.exec('a', 'ip', ['route'])
  t.notMatch(routes, /default/, 'no route out of the namespace')
  const sleeper = lan.spawn('b', 'sleep', ['60'])
  const names = Object.values(lan.hosts).map((h) => h.ns)
  t.ok(
    names.every((n) => n.startsWith(`bpt-${process.pid}-`)),
    'names carry the pid',
  )
  await lan.close()
  t.ok(sleeper.killed || sleeper.exitCode !== null, 'processes in the namespaces are stopped')
  const left = await namespaces()
  t.notOk(
    names.some((n) => left.includes(n)),
    'namespaces removed',
  )
})

t.test('a test process that dies still leaves no namespace behind', async (t) => {
  const dir = t.testdir()
  const script = join(dir, 'dies.ts')
  await writeFile(
    script,
    `import { createLan } from '${join(REPO_ROOT, 'test/helpers/netns.ts')}'\nawait createLan(undefined, [{ name: 'x', address: '10.45.0.1/24' }])\nconsole.log(process.pid)\nthrow new Error('test crashed')\n`,
  )
  const child = await run(process.execPath, nodeTs(script), { cwd: REPO_ROOT }).catch((err: { stdout: string; code: number }) => err)
  t.equal((child as { code?: number }).code, 1, 'the script crashed')
  const pid = String((child as { stdout: string }).stdout).trim()
  t.same(
    (await namespaces()).filter((n) => n.startsWith(`bpt-${pid}-`)),
    [],
    'its namespaces are gone',
  )
})
