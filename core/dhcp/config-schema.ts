/**
 * DHCP service configuration: the JSON schema (draft-07, for ajv with `useDefaults`) that the core
 * config embeds under the key `dhcp`, and the matching TypeScript types.
 * docs/reference/dhcp.md describes every key; keep the three in step.
 */
import { IPV4_PATTERN } from './ipv4.js'

export type DhcpMode = 'off' | 'proxy' | 'full'

export interface VendorClassRule {
  /** `prefix`: option 60 starts with `value`; `exact`: option 60 equals `value`. */
  readonly match: 'prefix' | 'exact'
  readonly value: string
  readonly bootfile: string
  /** TFTP server for this rule (siaddr); defaults to boot.nextServer. */
  readonly nextServer?: string
}

export interface Reservation {
  /** Any common MAC form; compared in canonical form. */
  readonly mac: string
  readonly ip: string
  readonly hostname?: string
}

/** What you write in the config file under `dhcp`. Keys with a schema default are optional. */
export interface DhcpConfig {
  readonly mode?: DhcpMode
  /** Interface whose IPv4 address becomes the server address (see docs: it filters, it does not bind). */
  readonly interface?: string
  /** Address announced as server identifier (54) and default next-server. */
  readonly serverAddress?: string
  readonly listenAddress?: string
  readonly ports?: { readonly server?: number; readonly client?: number; readonly pxe?: number }
  readonly broadcastAddress?: string
  readonly boot?: {
    /** Option-93 code (decimal, as a string key) → boot file. */
    readonly archMap?: Readonly<Record<string, string>>
    readonly vendorClassRules?: readonly VendorClassRule[]
    readonly nextServer?: string
    /** Port of bootpolicy's HTTP server, used to build the URLs below. */
    readonly httpPort?: number
    /** URL handed to iPXE clients; default http://<serverAddress>:<httpPort>/boot.ipxe. */
    readonly ipxeBootstrapUrl?: string
    /** Prefix for UEFI HTTP-boot URLs; default http://<serverAddress>:<httpPort>/files/ (the files.dir route). */
    readonly httpBootUrlBase?: string
    /** Send option 175.176 (no-pxedhcp) to iPXE in full mode: iPXE then skips its ~3 s proxyDHCP wait. */
    readonly ipxeNoPxeDhcp?: boolean
    /** Time limit for the decideBoot hook; after it the defaults are used. */
    readonly hookTimeoutMs?: number
  }
  readonly pool?: { readonly start: string; readonly end: string }
  readonly subnetMask?: string
  readonly router?: string
  readonly dnsServers?: readonly string[]
  readonly domain?: string
  readonly ntpServers?: readonly string[]
  readonly leaseSeconds?: number
  /** Offer limits: a flood of DISCOVERs from new MACs must not hold the pool (docs: Offer limits). */
  readonly offers?: {
    /** Most offers held at once; past it the oldest offer is dropped. */
    readonly max?: number
    /** How long an offered address is held for the client before it may be offered to another. */
    readonly holdSeconds?: number
  }
  /** Receive queue (docs: Under load): bounded, the oldest packet dropped when full (Kea's congestion handling). */
  readonly queue?: {
    /** Most datagrams waiting to be answered; past it the oldest is dropped. */
    readonly capacity?: number
    /** Most requests being answered at once (deciding, or waiting for their lease commit). */
    readonly inFlight?: number
  }
  readonly declineSeconds?: number
  /** A DECLINE of a bound lease counts only this long after the ACK the client checks (ARP). */
  readonly declineWindowSeconds?: number
  readonly reservations?: readonly Reservation[]
  /** Lease state file, relative to the service's stateDir. */
  readonly stateFile?: string
}

type DeepRequired<T> = { readonly [K in keyof T]-?: NonNullable<T[K]> extends readonly unknown[] | string | number | boolean ? NonNullable<T[K]> : DeepRequired<NonNullable<T[K]>> }

/** The config after ajv applied the defaults; optional keys without a default stay optional. */
export type ResolvedDhcpConfig = Omit<DeepRequired<DhcpConfig>, 'interface' | 'serverAddress' | 'pool' | 'router' | 'domain' | 'boot'> & {
  readonly interface?: string
  readonly serverAddress?: string
  readonly pool?: { readonly start: string; readonly end: string }
  readonly router?: string
  readonly domain?: string
  readonly boot: Omit<DeepRequired<NonNullable<DhcpConfig['boot']>>, 'nextServer' | 'ipxeBootstrapUrl' | 'httpBootUrlBase'> & {
    readonly nextServer?: string
    readonly ipxeBootstrapUrl?: string
    readonly httpBootUrlBase?: string
  }
}

const ipv4 = { type: 'string', pattern: IPV4_PATTERN } as const
const port = { type: 'integer', minimum: 1, maximum: 65535 } as const

/**
 * Default boot files by option-93 code. Names follow iPXE's build targets; put the files in the
 * TFTP root (Debian's `ipxe` package ships undionly.kpxe and ipxe.efi in /usr/lib/ipxe/).
 * 15/16/18/19 are the UEFI HTTP-boot codes: the same binaries, handed out as http:// URLs.
 */
export const DEFAULT_ARCH_MAP: Readonly<Record<string, string>> = {
  0: 'undionly.kpxe',
  6: 'ipxe-i386.efi',
  7: 'ipxe.efi',
  9: 'ipxe.efi',
  10: 'snp-arm32.efi',
  11: 'snp-arm64.efi',
  15: 'ipxe-i386.efi',
  16: 'ipxe.efi',
  18: 'snp-arm32.efi',
  19: 'snp-arm64.efi',
  25: 'ipxe-riscv32.efi',
  27: 'ipxe-riscv64.efi',
}

export const dhcpConfigSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'bootpolicy/dhcp',
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    mode: { enum: ['off', 'proxy', 'full'], default: 'off' },
    interface: { type: 'string', minLength: 1, maxLength: 15 },
    serverAddress: ipv4,
    listenAddress: { ...ipv4, default: '0.0.0.0' },
    ports: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        server: { ...port, default: 67 },
        client: { ...port, default: 68 },
        pxe: { ...port, default: 4011 },
      },
    },
    broadcastAddress: { ...ipv4, default: '255.255.255.255' },
    boot: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        archMap: {
          type: 'object',
          propertyNames: { pattern: '^(0|[1-9]\\d{0,4})$' },
          additionalProperties: { type: 'string', minLength: 1, maxLength: 1024 },
          default: DEFAULT_ARCH_MAP,
        },
        vendorClassRules: {
          type: 'array',
          default: [],
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['match', 'value', 'bootfile'],
            properties: {
              match: { enum: ['prefix', 'exact'] },
              value: { type: 'string', minLength: 1, maxLength: 255 },
              bootfile: { type: 'string', minLength: 1, maxLength: 1024 },
              nextServer: ipv4,
            },
          },
        },
        nextServer: ipv4,
        httpPort: { ...port, default: 80 },
        ipxeBootstrapUrl: { type: 'string', pattern: '^https?://', maxLength: 1024 },
        httpBootUrlBase: { type: 'string', pattern: '^https?://.*/$', maxLength: 1024 },
        ipxeNoPxeDhcp: { type: 'boolean', default: true },
        hookTimeoutMs: { type: 'integer', minimum: 1, maximum: 10000, default: 500 },
      },
    },
    pool: {
      type: 'object',
      additionalProperties: false,
      required: ['start', 'end'],
      properties: { start: ipv4, end: ipv4 },
    },
    subnetMask: { ...ipv4, default: '255.255.255.0' },
    router: ipv4,
    dnsServers: { type: 'array', items: ipv4, maxItems: 8, default: [] },
    domain: { type: 'string', minLength: 1, maxLength: 253 },
    ntpServers: { type: 'array', items: ipv4, maxItems: 8, default: [] },
    leaseSeconds: { type: 'integer', minimum: 60, maximum: 31536000, default: 43200 },
    offers: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        max: { type: 'integer', minimum: 1, maximum: 65536, default: 64 },
        holdSeconds: { type: 'integer', minimum: 1, maximum: 60, default: 5 },
      },
    },
    queue: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        capacity: { type: 'integer', minimum: 1, maximum: 65536, default: 256 },
        inFlight: { type: 'integer', minimum: 1, maximum: 65536, default: 256 },
      },
    },
    declineSeconds: { type: 'integer', minimum: 1, maximum: 86400, default: 600 },
    declineWindowSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 30 },
    reservations: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['mac', 'ip'],
        properties: {
          mac: { type: 'string', minLength: 12, maxLength: 17 },
          ip: ipv4,
          hostname: { type: 'string', pattern: '^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})$' },
        },
      },
    },
    stateFile: { type: 'string', minLength: 1, default: 'dhcp-leases.json' },
  },
  if: { properties: { mode: { const: 'full' } }, required: ['mode'] },
  // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword, never awaited
  then: { required: ['pool'] },
} as const
