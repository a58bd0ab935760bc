import t from 'tap'
import path from 'node:path'
import { writeFileSync } from 'node:fs'
import { isBootpolicyError } from '../../../core/errors/bp-error.js'
import { resolveTftpConfig } from '../../../core/tftp/config-schema.js'
import { createTftpService } from '../../../core/tftp/tftp-service.js'
import { captureLogs } from '../../helpers/log-capture.js'
import { errorCodeOf, makeTftpTree, rawExchange, rrq, startTftp } from '../../helpers/tftp.js'

const tree = makeTftpTree()
t.teardown(() => tree.cleanup())
const { logger } = captureLogs()

t.test('disabled: start() binds nothing', async (t) => {
  const service = createTftpService(resolveTftpConfig({ root: tree.root }), { logger })
  await service.start()
  t.throws(() => service.address())
  await service.close()
})

t.test('a port in use is BP_ERR_TFTP_BIND with the cause', async (t) => {
  const first = await startTftp(tree.root)
  t.teardown(() => first.service.close())
  const second = createTftpService(resolveTftpConfig({ enabled: true, address: '127.0.0.1', port: first.port, root: tree.root }), { logger })
  const err = await second.start().catch((e: unknown) => e)
  t.ok(isBootpolicyError(err, 'BP_ERR_TFTP_BIND'))
  t.equal((err as { cause?: { code?: string } }).cause?.code, 'EADDRINUSE')
})

t.test('a missing or non-directory root is BP_ERR_TFTP_ROOT', async (t) => {
  const file = path.join(tree.base, 'not-a-dir')
  writeFileSync(file, 'x')
  for (const root of [path.join(tree.base, 'missing'), file]) {
    const service = createTftpService(resolveTftpConfig({ enabled: true, address: '127.0.0.1', port: 0, root }), { logger })
    t.ok(isBootpolicyError(await service.start().catch((e: unknown) => e), 'BP_ERR_TFTP_ROOT'), root)
  }
})

t.test('an address that is not an IP literal is a config error', async (t) => {
  const service = createTftpService(resolveTftpConfig({ enabled: true, address: 'localhost', port: 0, root: tree.root }), { logger })
  t.ok(isBootpolicyError(await service.start().catch((e: unknown) => e), 'BP_ERR_CONFIG_INVALID'))
})

t.test('close() aborts transfers in flight and resolves once their sockets are gone', async (t) => {
  const { service, port } = await startTftp(tree.root, { virtualFileTimeoutMs: 5000 }, () => new Promise(() => undefined))
  const pending = rawExchange(port, rrq('anything'), 400)
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(service.stats().active, 1)
  await service.close()
  t.equal(service.stats().active, 0)
  const { replies } = await pending
  t.equal(errorCodeOf(replies[0]), 0, 'the client was told')
  t.match(replies[0]?.subarray(4).toString('latin1'), /shutting down/)
})
