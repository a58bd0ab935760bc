/**
 * Configuration of the TFTP service: the type, its JSON schema (draft-07, for ajv with
 * `useDefaults`) and a helper that validates a partial object and fills the defaults.
 *
 * Limits are stated in numbers here and in docs/reference/tftp.md; keep the two in step.
 */
import { Ajv } from 'ajv'
import { BootpolicyError } from '../errors/bp-error.js'

export interface TftpConfig {
  /** Off by default: a TFTP server on port 69 is something an admin turns on deliberately. */
  enabled: boolean
  /** IPv4 or IPv6 address to bind; transfer sockets bind to the same address. */
  address: string
  /** UDP port; 69 needs root or CAP_NET_BIND_SERVICE. 0 picks a free port (tests). */
  port: number
  /** Read-only root; nothing outside its realpath is ever served. */
  root: string
  /** Largest blksize (RFC 2348) granted; 1468 fills an Ethernet frame without IP fragmentation. */
  blksizeMax: number
  /** Largest windowsize (RFC 7440) granted; 1 forces lock-step. */
  windowsizeMax: number
  /** Transfers in flight at once; further requests get a TFTP error "server busy". */
  maxConnections: number
  /** Retransmission timeout per packet. */
  timeoutMs: number
  /** Retransmissions before a silent client's transfer is dropped. */
  retries: number
  /** How long a virtual-file provider (plugin) may take before the client gets an error. */
  virtualFileTimeoutMs: number
  /** Bytes of boot files held in memory for all transfers (core/files/file-cache.ts); 0: off. */
  cacheMaxBytes: number
  /** Largest file held in memory; larger files are read in 256 KiB chunks per transfer. */
  cacheMaxFileBytes: number
  /** Worker threads that run transfers (transfer-pool.ts); 'auto': one per core; 0: the main thread. */
  workers: 'auto' | number
}

export const tftpConfigDefaults: Readonly<TftpConfig> = Object.freeze({
  enabled: false,
  address: '0.0.0.0',
  port: 69,
  root: '/srv/tftp',
  blksizeMax: 1468,
  windowsizeMax: 4,
  maxConnections: 100,
  timeoutMs: 1000,
  retries: 5,
  virtualFileTimeoutMs: 2000,
  cacheMaxBytes: 64 * 1024 * 1024,
  cacheMaxFileBytes: 16 * 1024 * 1024,
  workers: 'auto',
})

const d = tftpConfigDefaults

export const tftpConfigSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'bootpolicy/tftp-config',
  title: 'TFTP service',
  type: 'object',
  additionalProperties: false,
  properties: {
    enabled: { type: 'boolean', default: d.enabled },
    address: { type: 'string', minLength: 2, maxLength: 45, default: d.address, description: 'IPv4 or IPv6 literal' },
    port: { type: 'integer', minimum: 0, maximum: 65535, default: d.port },
    root: { type: 'string', minLength: 1, default: d.root },
    // 8..65464 is RFC 2348's range; the package falls back to 1468 outside it.
    blksizeMax: { type: 'integer', minimum: 8, maximum: 65464, default: d.blksizeMax },
    // RFC 7440 allows up to 65535; more than 16 only fills socket buffers on a LAN.
    windowsizeMax: { type: 'integer', minimum: 1, maximum: 16, default: d.windowsizeMax },
    maxConnections: { type: 'integer', minimum: 1, maximum: 10000, default: d.maxConnections },
    timeoutMs: { type: 'integer', minimum: 50, maximum: 60000, default: d.timeoutMs },
    retries: { type: 'integer', minimum: 0, maximum: 20, default: d.retries },
    virtualFileTimeoutMs: { type: 'integer', minimum: 1, maximum: 60000, default: d.virtualFileTimeoutMs },
    cacheMaxBytes: { type: 'integer', minimum: 0, maximum: 2 ** 40, default: d.cacheMaxBytes },
    cacheMaxFileBytes: { type: 'integer', minimum: 0, maximum: 2 ** 40, default: d.cacheMaxFileBytes },
    workers: { anyOf: [{ const: 'auto' }, { type: 'integer', minimum: 0, maximum: 64 }], default: d.workers },
  },
} as const

let validate: ReturnType<Ajv['compile']> | undefined

/**
 * Validate a (partial) TFTP config and fill defaults. Throws BP_ERR_CONFIG_INVALID listing every
 * bad path. The input is not modified.
 */
export function resolveTftpConfig(input: Partial<TftpConfig> = {}): TftpConfig {
  validate ??= new Ajv({ useDefaults: true, allErrors: true, strict: true }).compile(tftpConfigSchema)
  const copy = structuredClone(input) as Record<string, unknown>
  if (!validate(copy)) {
    const details = (validate.errors ?? []).map((e) => `tftp${e.instancePath} ${e.message ?? 'is invalid'}`).join('; ')
    throw new BootpolicyError('BP_ERR_CONFIG_INVALID', { details })
  }
  return copy as unknown as TftpConfig
}
