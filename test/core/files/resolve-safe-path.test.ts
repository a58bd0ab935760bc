import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import ts from 'typescript'
import { checkRelativePath, isInside, resolveSafePath } from '../../../core/files/resolve-safe-path.js'

// A root with files, a subdirectory, symlinks inside and out, a FIFO; a secret beside the root.
const base = mkdtempSync(path.join(tmpdir(), 'bp-safe-path-'))
const root = path.join(base, 'root')
const outside = path.join(base, 'outside')
mkdirSync(path.join(root, 'sub', 'deeper'), { recursive: true })
mkdirSync(outside)
writeFileSync(path.join(root, 'boot.ipxe'), '#!ipxe\n')
writeFileSync(path.join(root, 'sub', 'deeper', 'kernel'), 'k')
writeFileSync(path.join(root, '%2e%2e'), 'literal name')
writeFileSync(path.join(outside, 'secret'), 'secret')
symlinkSync('sub/deeper/kernel', path.join(root, 'link-in'))
symlinkSync('../outside/secret', path.join(root, 'link-out'))
symlinkSync(outside, path.join(root, 'dir-out'))
symlinkSync('/etc', path.join(root, 'etc-link'))
symlinkSync('loop-b', path.join(root, 'loop-a'))
symlinkSync('loop-a', path.join(root, 'loop-b'))
symlinkSync('does-not-exist', path.join(root, 'dangling'))
execFileSync('mkfifo', [path.join(root, 'fifo')])
// A root reached through a symlink must work: containment is checked against its realpath.
symlinkSync(root, path.join(base, 'root-link'))
t.teardown(() => rmSync(base, { recursive: true, force: true }))

t.test('serves regular files inside the root, with one leading slash stripped', async (t) => {
  for (const [requested, relative] of [
    ['boot.ipxe', 'boot.ipxe'],
    ['/boot.ipxe', 'boot.ipxe'],
    ['sub/deeper/kernel', 'sub/deeper/kernel'],
    ['./sub//deeper/./kernel', 'sub/deeper/kernel'],
    ['%2e%2e', '%2e%2e'],
  ] as const) {
    const r = await resolveSafePath(root, requested)
    t.ok(r.ok, requested)
    if (r.ok) {
      t.equal(r.relative, relative, `${requested} relative`)
      t.ok(r.stat.isFile())
      t.ok(isInside(root, r.path))
    }
  }
})

t.test('a symlink inside the root that stays inside is followed', async (t) => {
  const r = await resolveSafePath(root, 'link-in')
  t.ok(r.ok)
  if (r.ok) t.equal(r.path, path.join(root, 'sub', 'deeper', 'kernel'))
})

t.test('a root behind a symlink still serves and still contains', async (t) => {
  const viaLink = path.join(base, 'root-link')
  t.ok((await resolveSafePath(viaLink, 'boot.ipxe')).ok)
  t.same(await resolveSafePath(viaLink, 'link-out'), { ok: false, reason: 'traversal' })
})

t.test('traversal is refused before touching the disk', async (t) => {
  for (const requested of ['..', '../outside/secret', 'sub/../../outside/secret', 'sub/..', '//etc/passwd', '///etc/passwd', '/../x']) {
    t.same(checkRelativePath(requested), { ok: false, reason: 'traversal' }, JSON.stringify(requested))
    t.same(await resolveSafePath(root, requested), { ok: false, reason: 'traversal' }, JSON.stringify(requested))
  }
})

t.test('bytes that never belong in a file name are invalid', async (t) => {
  for (const requested of ['boot.ipxe\0', 'a\0/../../etc/passwd', '..\\outside\\secret', 'sub\\deeper\\kernel', 'a\nb', 'a\u007f', '', 'x'.repeat(4097)]) {
    t.same(await resolveSafePath(root, requested), { ok: false, reason: 'invalid' }, JSON.stringify(requested).slice(0, 40))
  }
})

t.test('symlinks that resolve outside the root are traversal', async (t) => {
  for (const requested of ['link-out', 'dir-out/secret', 'etc-link/passwd', 'etc-link/hostname']) {
    t.same(await resolveSafePath(root, requested), { ok: false, reason: 'traversal' }, requested)
  }
})

t.test('misses, directories and special files', async (t) => {
  t.same(await resolveSafePath(root, 'nope'), { ok: false, reason: 'not-found' })
  t.same(await resolveSafePath(root, 'boot.ipxe/x'), { ok: false, reason: 'not-found' }, 'ENOTDIR')
  t.same(await resolveSafePath(root, 'dangling'), { ok: false, reason: 'not-found' })
  t.same(await resolveSafePath(root, 'loop-a'), { ok: false, reason: 'not-found' }, 'ELOOP')
  t.same(await resolveSafePath(root, 'sub'), { ok: false, reason: 'not-a-file' })
  t.same(await resolveSafePath(root, '/'), { ok: false, reason: 'not-a-file' }, 'the root itself')
  t.same(await resolveSafePath(root, '.'), { ok: false, reason: 'not-a-file' })
  t.same(await resolveSafePath(root, 'fifo'), { ok: false, reason: 'not-a-file' }, 'a FIFO would block a reader')
  t.same(await resolveSafePath(path.join(base, 'missing-root'), 'boot.ipxe'), { ok: false, reason: 'not-found' })
})

t.test('an unreadable directory is forbidden (checked as user nobody: root ignores permission bits)', async (t) => {
  const locked = path.join(root, 'locked')
  mkdirSync(locked)
  writeFileSync(path.join(locked, 'f'), 'x')
  chmodSync(locked, 0o000)
  chmodSync(base, 0o755)
  t.teardown(() => chmodSync(locked, 0o755))
  // nobody must not need to read the repository (the clone may sit under /root, 0700): the module
  // (it imports only node: builtins) is transpiled into a temp dir nobody can read, and runs there.
  const source = readFileSync(new URL('../../../core/files/resolve-safe-path.ts', import.meta.url), 'utf8')
  const runDir = mkdtempSync(path.join(tmpdir(), 'bp-nobody-'))
  t.teardown(() => rmSync(runDir, { recursive: true, force: true }))
  chmodSync(runDir, 0o755)
  writeFileSync(path.join(runDir, 'resolve-safe-path.mjs'), ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText)
  const script = `import { resolveSafePath } from './resolve-safe-path.mjs'; console.log(JSON.stringify(await resolveSafePath(${JSON.stringify(root)}, 'locked/f')))`
  writeFileSync(path.join(runDir, 'run.mjs'), script)
  const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {}
  // `env -i`: tap's process hooks (and the suite's trail preload) add --import of files in the
  // repository to every child's NODE_OPTIONS, which nobody cannot read under /root.
  const out = execFileSync('env', ['-i', `PATH=${process.env.PATH ?? ''}`, process.execPath, path.join(runDir, 'run.mjs')], { ...asNobody, encoding: 'utf8', cwd: runDir })
  t.same(JSON.parse(out), { ok: false, reason: 'forbidden' })
})

t.test('isInside compares whole path segments', async (t) => {
  t.ok(isInside('/srv/tftp', '/srv/tftp'))
  t.ok(isInside('/srv/tftp', '/srv/tftp/a'))
  t.notOk(isInside('/srv/tftp', '/srv/tftp-other/a'), 'a sibling sharing a prefix is outside')
  t.ok(isInside('/', '/etc'))
})
