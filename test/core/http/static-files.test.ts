import t from 'tap'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from '../../../core/http/build-app.js'
import { tempPolicies } from '../../helpers/policy-dir.js'

t.test('/files serves boot files with sizes and ranges and refuses traversal', async (t) => {
  const dir = tempPolicies()
  t.teardown(() => dir.remove())
  const files = join(dir.dir, 'files')
  mkdirSync(join(files, 'sub'), { recursive: true })
  const kernel = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251))
  writeFileSync(join(files, 'sub', 'vmlinuz'), kernel)
  writeFileSync(join(dir.dir, 'secret.txt'), 'outside the root')
  symlinkSync(join(dir.dir, 'secret.txt'), join(files, 'escape'))
  symlinkSync(join(files, 'sub', 'vmlinuz'), join(files, 'inside-link'))
  const bp = await build(dir.config({ files: { dir: files } }))
  t.teardown(() => bp.close())

  const whole = await bp.app.inject('/files/sub/vmlinuz')
  t.equal(whole.statusCode, 200)
  t.equal(whole.headers['content-length'], '5000')
  t.same(whole.rawPayload, kernel)
  const head = await bp.app.inject({ method: 'HEAD', url: '/files/sub/vmlinuz' })
  t.equal(head.headers['content-length'], '5000')
  const part = await bp.app.inject({ url: '/files/sub/vmlinuz', headers: { range: 'bytes=100-199' } })
  t.equal(part.statusCode, 206)
  t.equal(part.headers['content-range'], 'bytes 100-199/5000')
  t.same(part.rawPayload, kernel.subarray(100, 200))
  const tail = await bp.app.inject({ url: '/files/sub/vmlinuz', headers: { range: 'bytes=-10' } })
  t.same(tail.rawPayload, kernel.subarray(4990))
  t.equal((await bp.app.inject({ url: '/files/sub/vmlinuz', headers: { range: 'bytes=6000-' } })).statusCode, 416)
  t.equal((await bp.app.inject('/files/inside-link')).statusCode, 200, 'a symlink that stays inside is fine')

  for (const url of ['/files/../secret.txt', '/files/%2e%2e/secret.txt', '/files/sub/%2e%2e/%2e%2e/secret.txt', '/files/escape', '/files/sub%00', '/files/%252e%252e/secret.txt']) {
    const res = await bp.app.inject(url)
    t.ok([403, 404].includes(res.statusCode), `${url} → ${res.statusCode}`)
    t.notMatch(res.body, /outside the root/)
  }
  t.equal((await bp.app.inject('/files/escape')).json().code, 'BP_ERR_HTTP_FORBIDDEN_PATH')
  t.equal((await bp.app.inject('/files/nope')).json().code, 'BP_ERR_HTTP_NOT_FOUND')
})
