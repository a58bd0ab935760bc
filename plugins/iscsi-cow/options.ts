/** The plugin's options: JSON Schema (validated by the host, defaults filled in) and the resolved form. */
import { hostname } from 'node:os'
import { isAbsolute, resolve } from 'node:path'
import { BootpolicyError } from 'bootpolicy/plugin'
import { CHAP_MAX, CHAP_MIN } from './chap-secret.js'
import { ambiguousImageNames, INSTANCE_PATTERN, reversedHostname } from './names.js'

export interface IscsiCowOptions {
  /** Image name (the instance, e.g. `fc29`) → `{ base }`: the read-only base image (raw), relative to the config file. */
  images: Record<string, { base: string }>
  /** The address (and port) clients reach tgtd's portal at; it goes into the boot script. */
  portal: { address: string; port?: number }
  /** Host name for the IQNs (`iqn.<reversed>:<instance>-<user>`); default os.hostname(). */
  hostname?: string
  /** `auto`: dm-snapshot when /dev/mapper/control exists, qcow2 otherwise. */
  backend?: 'auto' | 'qcow2' | 'dm-snapshot'
  /** Where overlays, exports and pid files live; default the plugin's state directory. */
  dataDir?: string
  /** `accountHelper`: the command that creates CHAP accounts when bootpolicy is not root (README.md, "Privileges"). */
  tgtadm?: { path?: string; controlPort?: number; accountHelper?: string[] }
  qemuImg?: string
  qemuStorageDaemon?: string
  /** Put in front of every command, e.g. `["sudo", "-n"]` (README.md, "Privileges"). */
  commandPrefix?: string[]
  chapSecretLength?: number
  commandTimeoutMs?: number
  lockTimeoutMs?: number
}

export const optionsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['images', 'portal'],
  properties: {
    images: {
      type: 'object',
      minProperties: 1,
      maxProperties: 256,
      propertyNames: { pattern: INSTANCE_PATTERN.source },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['base'],
        properties: { base: { type: 'string', minLength: 1, maxLength: 1024 } },
      },
    },
    portal: {
      type: 'object',
      additionalProperties: false,
      required: ['address'],
      properties: {
        // An IPv4 address or a DNS name: it is part of `iscsi:` URIs and of /dev/disk/by-path names.
        address: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$' },
        port: { type: 'integer', minimum: 1, maximum: 65535, default: 3260 },
      },
    },
    hostname: { type: 'string', minLength: 1, maxLength: 253 },
    backend: { type: 'string', enum: ['auto', 'qcow2', 'dm-snapshot'], default: 'auto' },
    dataDir: { type: 'string', minLength: 1 },
    tgtadm: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        path: { type: 'string', minLength: 1, default: 'tgtadm' },
        controlPort: { type: 'integer', minimum: 0, maximum: 65535 },
        accountHelper: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, maxItems: 8 },
      },
    },
    qemuImg: { type: 'string', minLength: 1, default: 'qemu-img' },
    qemuStorageDaemon: { type: 'string', minLength: 1, default: 'qemu-storage-daemon' },
    commandPrefix: { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 8, default: [] },
    chapSecretLength: { type: 'integer', minimum: CHAP_MIN, maximum: CHAP_MAX, default: CHAP_MAX },
    commandTimeoutMs: { type: 'integer', minimum: 100, maximum: 600_000, default: 10_000 },
    lockTimeoutMs: { type: 'integer', minimum: 100, maximum: 600_000, default: 30_000 },
  },
}

export interface ResolvedOptions {
  readonly images: Record<string, string>
  readonly portal: { address: string; port: number }
  readonly reversedHost: string
  readonly backend: 'auto' | 'qcow2' | 'dm-snapshot'
  readonly dataDir: string
  readonly tgtadm: { path: string; controlPort?: number; accountHelper?: string[] }
  readonly qemuImg: string
  readonly qemuStorageDaemon: string
  readonly commandPrefix: string[]
  readonly chapSecretLength: number
  readonly commandTimeoutMs: number
  readonly lockTimeoutMs: number
}

/** Paths made absolute against the config's folder; semantic checks the schema cannot express. */
export function resolveOptions(o: IscsiCowOptions, dirs: { baseDir: string; stateDir: string }): ResolvedOptions {
  const problems = ambiguousImageNames(Object.keys(o.images))
  if (problems.length) throw new BootpolicyError('BP_ERR_PLUGIN_OPTIONS', { plugin: 'iscsi-cow', details: problems.join('; ') })
  if (o.commandPrefix?.length && !o.tgtadm?.accountHelper) {
    // Without root, tgtd's socket is closed to us, and tgtadm would carry the secret in its argv.
    throw new BootpolicyError('BP_ERR_PLUGIN_OPTIONS', {
      plugin: 'iscsi-cow',
      details: 'commandPrefix is set but tgtadm.accountHelper is not: CHAP accounts are created only through the helper (README.md, "Privileges"), never with tgtadm --password',
    })
  }
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(dirs.baseDir, p))
  return {
    images: Object.fromEntries(Object.entries(o.images).map(([name, i]) => [name, abs(i.base)])),
    portal: { address: o.portal.address, port: o.portal.port ?? 3260 },
    reversedHost: reversedHostname(o.hostname ?? hostname()),
    backend: o.backend ?? 'auto',
    dataDir: o.dataDir ? abs(o.dataDir) : dirs.stateDir,
    tgtadm: {
      path: o.tgtadm?.path ?? 'tgtadm',
      ...(o.tgtadm?.controlPort !== undefined && { controlPort: o.tgtadm.controlPort }),
      ...(o.tgtadm?.accountHelper && { accountHelper: o.tgtadm.accountHelper }),
    },
    qemuImg: o.qemuImg ?? 'qemu-img',
    qemuStorageDaemon: o.qemuStorageDaemon ?? 'qemu-storage-daemon',
    commandPrefix: o.commandPrefix ?? [],
    chapSecretLength: o.chapSecretLength ?? CHAP_MAX,
    commandTimeoutMs: o.commandTimeoutMs ?? 10_000,
    lockTimeoutMs: o.lockTimeoutMs ?? 30_000,
  }
}
