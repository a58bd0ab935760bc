/**
 * HTTPS for iPXE: `bootpolicy cert` makes an RSA 2048 certificate whose CN and SAN are the server
 * name; bootpolicy serves /boot with it, and `openssl s_client` negotiates TLS 1.2 with one of
 * seed 000's ciphers (the RSA key-exchange suites iPXE speaks).
 */
import t from 'tap'
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { certInstructions, createSelfSignedCert, IPXE_CIPHERS } from '../../../core/cli/cert-command.js'
import { main } from '../../../core/cli/main.js'
import { build } from '../../../core/http/build-app.js'
import { requireCommand } from '../../helpers/e2e-require.js'
import { tempPolicies } from '../../helpers/policy-dir.js'

const run = promisify(execFile)

/** openssl s_client without blocking the event loop: the server under test runs in this process. */
function sClient(openssl: string, args: string[], input: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(openssl, ['s_client', ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.on('close', (status) => {
      clearTimeout(timer)
      resolve({ status, stdout, stderr })
    })
    // Send the request once connected; -ign_eof keeps reading until the server closes.
    setTimeout(() => child.stdin.end(input), 300)
  })
}

t.test('cert: RSA 2048, CN and SAN from --name (DNS or IP), key not world-readable, no overwrite without --force', async (t) => {
  const openssl = requireCommand('openssl', 'openssl')
  const out = mkdtempSync(join(tmpdir(), 'bp-cert-'))
  t.teardown(() => rmSync(out, { recursive: true, force: true }))
  const dns = await createSelfSignedCert({ name: 'server-01.example.edu', outDir: out })
  const text = (await run(openssl, ['x509', '-in', dns.certFile, '-noout', '-text'])).stdout
  t.match(text, /Subject: CN ?= ?server-01\.example\.edu/)
  t.match(text, /Public-Key: \(2048 bit\)/)
  t.match(text, /DNS:server-01\.example\.edu/)
  t.match(text, /TLS Web Server Authentication/)
  t.equal(statSync(dns.keyFile).mode & 0o077, 0, 'the private key is readable by its owner only')
  const ip = await createSelfSignedCert({ name: '192.0.2.158', outDir: out })
  t.match((await run(openssl, ['x509', '-in', ip.certFile, '-noout', '-ext', 'subjectAltName'])).stdout, /IP Address:192\.0\.2\.158/)
  await t.rejects(createSelfSignedCert({ name: 'server-01.example.edu', outDir: out }), { code: 'BP_ERR_CLI_USAGE', message: /pass --force/ })
  await t.resolves(createSelfSignedCert({ name: 'server-01.example.edu', outDir: out, force: true }))
  await t.rejects(createSelfSignedCert({ name: 'bad name; rm -rf /', outDir: out }), { code: 'BP_ERR_CLI_USAGE', message: /DNS name or an IP address/ })

  const help = certInstructions('server-01.example.edu', dns)
  t.match(help, `"cert": "${dns.certFile}"`)
  t.match(help, `"ciphers": "${IPXE_CIPHERS}"`)
  t.match(help, `make bin-x86_64-efi/ipxe.efi EMBED=../init.ipxe CERT=${dns.certFile} TRUST=${dns.certFile}`)
  t.match(help, '#define DOWNLOAD_PROTO_HTTPS')
})

t.test('bootpolicy cert on the command line: exit 0 and the snippet; usage errors exit 2', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'bp-cert-'))
  t.teardown(() => rmSync(out, { recursive: true, force: true }))
  const writes: string[] = []
  const orig = process.stdout.write.bind(process.stdout)
  const origErr = process.stderr.write.bind(process.stderr)
  process.stdout.write = ((chunk: string) => writes.push(String(chunk)) > 0) as typeof process.stdout.write
  process.stderr.write = ((chunk: string) => writes.push(String(chunk)) > 0) as typeof process.stderr.write
  let ok: number, missing: number
  try {
    ok = await main(['cert', '--name', 'boot.example.org', '--out', out])
    missing = await main(['cert'])
  } finally {
    process.stdout.write = orig
    process.stderr.write = origErr
  }
  t.equal(ok, 0)
  t.match(writes.join(''), /"key": ".*boot\.example\.org\.key"/)
  t.equal(missing, 2)
  t.match(writes.join(''), /BP_ERR_CLI_USAGE: bootpolicy cert needs --name/)
})

t.test('bootpolicy over HTTPS: openssl s_client negotiates TLS 1.2 with a seed 000 cipher; CN/SAN match', async (t) => {
  const openssl = requireCommand('openssl', 'openssl')
  const out = mkdtempSync(join(tmpdir(), 'bp-cert-'))
  t.teardown(() => rmSync(out, { recursive: true, force: true }))
  const cert = await createSelfSignedCert({ name: '127.0.0.1', outDir: out })
  const dir = tempPolicies({ 'p.ts': `export default () => ({ kind: 'exit', message: 'over tls' })` })
  t.teardown(() => dir.remove())
  const bp = await build(dir.config({ http: { tls: { cert: cert.certFile, key: cert.keyFile } } }))
  t.teardown(() => bp.close())
  await bp.app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = bp.app.server.address() as { port: number }

  const r = await sClient(
    openssl,
    ['-connect', `127.0.0.1:${port}`, '-tls1_2', '-cipher', IPXE_CIPHERS, '-ign_eof', '-CAfile', cert.certFile, '-verify_ip', '127.0.0.1', '-verify_return_error'],
    'GET /boot HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
  )
  t.equal(r.status, 0, r.stderr)
  const cipher = /Cipher is (\S+)/.exec(r.stdout)?.[1] ?? /Cipher\s*:\s*(\S+)/.exec(r.stdout)?.[1]
  t.ok(cipher && IPXE_CIPHERS.split(':').includes(cipher), `negotiated ${cipher}`)
  t.match(r.stdout, /Protocol\s*:\s*TLSv1\.2/)
  t.match(r.stdout, /Verify return code: 0 \(ok\)/)
  t.match(r.stdout, /subject=CN ?= ?127\.0\.0\.1/)
  t.match(r.stdout, /#!ipxe[\s\S]*echo over tls/, 'the /boot answer came over TLS')

  const weak = await sClient(openssl, ['-connect', `127.0.0.1:${port}`, '-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256'], '')
  t.not(weak.status, 0, 'a cipher outside the list is refused (honorCipherOrder with the configured list)')
})
