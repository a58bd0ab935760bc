/**
 * bootpolicy cert --name <server-name> [--out dir] [--days N] [--force]: a self-signed RSA 2048
 * certificate for HTTPS between iPXE and bootpolicy. The CN and the subjectAltName are the server
 * name (DNS, or IP when the name is an address), which is what iPXE checks against the URL.
 * openssl runs with argument arrays (no shell). Prints the config snippet and the iPXE build line.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { isIP } from 'node:net'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { BootpolicyError } from '../errors/bp-error.js'

const run = promisify(execFile)

/** The cipher list of seed 000 (iPXE 2019 builds speak TLS 1.2 with these RSA key-exchange suites). */
export const IPXE_CIPHERS = 'AES256-SHA256:AES128-SHA256:AES256-SHA:AES128-SHA'

export interface CertOptions {
  /** The name clients use in the URL: a DNS name or an IPv4/IPv6 address. */
  readonly name: string
  readonly outDir: string
  readonly days?: number
  /** Overwrite existing files. */
  readonly force?: boolean
}

export interface CertFiles {
  readonly certFile: string
  readonly keyFile: string
  /** SHA-256 fingerprint as openssl prints it. */
  readonly fingerprint: string
}

const DNS_NAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/

export async function createSelfSignedCert(options: CertOptions): Promise<CertFiles> {
  const { name } = options
  const ip = isIP(name) !== 0
  if (!ip && !DNS_NAME.test(name)) {
    throw new BootpolicyError('BP_ERR_CLI_USAGE', { details: `--name must be a DNS name or an IP address, got ${JSON.stringify(name)}` })
  }
  const days = options.days ?? 825
  if (!Number.isInteger(days) || days < 1 || days > 3650) throw new BootpolicyError('BP_ERR_CLI_USAGE', { details: '--days must be an integer from 1 to 3650' })
  const outDir = resolve(options.outDir)
  mkdirSync(outDir, { recursive: true, mode: 0o755 })
  const certFile = join(outDir, `${name}.pem`)
  const keyFile = join(outDir, `${name}.key`)
  if (!options.force && (existsSync(certFile) || existsSync(keyFile))) {
    throw new BootpolicyError('BP_ERR_CLI_USAGE', { details: `${certFile} or ${keyFile} exists; pass --force to replace them` })
  }
  const san = ip ? `IP:${name}` : `DNS:${name}`
  try {
    await run(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-sha256',
        '-nodes',
        '-days',
        String(days),
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-subj',
        `/CN=${name}`,
        '-addext',
        `subjectAltName=${san}`,
        '-addext',
        'keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign',
        '-addext',
        'extendedKeyUsage=serverAuth',
      ],
      { timeout: 60_000 },
    )
    const { stdout } = await run('openssl', ['x509', '-in', certFile, '-noout', '-fingerprint', '-sha256'], { timeout: 10_000 })
    return { certFile, keyFile, fingerprint: stdout.trim().replace(/^.*=/, '') }
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT'
    throw new BootpolicyError(
      'BP_ERR_CLI_USAGE',
      {
        details: missing ? 'openssl is not installed (apt-get install openssl)' : `openssl failed: ${(err as { stderr?: string }).stderr?.trim() || String(err)}`,
      },
      { cause: err },
    )
  }
}

/** What `bootpolicy cert` prints after creating the files. */
export function certInstructions(name: string, files: CertFiles): string {
  return `Created a self-signed RSA 2048 certificate for ${name}:
  certificate  ${files.certFile}
  private key  ${files.keyFile} (keep it private: chmod 600, owned by the bootpolicy user)
  SHA-256      ${files.fingerprint}

1. Config (JSON) — serve /boot over HTTPS:
  "http": {
    "port": 443,
    "tls": {
      "cert": ${JSON.stringify(files.certFile)},
      "key": ${JSON.stringify(files.keyFile)},
      "ciphers": "${IPXE_CIPHERS}",
      "minVersion": "TLSv1.2"
    }
  }

2. iPXE — trust this certificate and speak HTTPS (in ipxe/src):
  echo '#define DOWNLOAD_PROTO_HTTPS' >> config/local/general.h
  make clean
  make bin-x86_64-efi/ipxe.efi EMBED=../init.ipxe CERT=${files.certFile} TRUST=${files.certFile}
  (init.ipxe: dhcp || exit ; chain https://${name}/boot.ipxe || exit)

Clients must reach the server by exactly "${name}": iPXE checks the certificate's name against the URL.
`
}

export async function certCommand(flags: Record<string, string | true>): Promise<number> {
  const name = typeof flags.name === 'string' ? flags.name : undefined
  if (!name) throw new BootpolicyError('BP_ERR_CLI_USAGE', { details: 'bootpolicy cert needs --name <server-name> (the host name or IP address in the iPXE URL)' })
  const outDir = typeof flags.out === 'string' ? flags.out : 'tls'
  const days = typeof flags.days === 'string' ? Number(flags.days) : undefined
  const files = await createSelfSignedCert({ name, outDir, ...(days !== undefined && { days }), force: flags.force === true })
  process.stdout.write(certInstructions(name, files))
  return 0
}
