/**
 * Where pxelinux-cfg keeps each client's generated file, and who may read it back (issue 10,
 * class 8: a /boot query's `mac=`, `uuid=` and `ip=` are the client's own claims).
 *
 * Peer mode (the default): a file is keyed by what the server saw, the TCP peer address of the
 * /boot request that decided it, and only that address reads it back. The claims only choose
 * which names of that peer's own file answer (pxelinux tries UUID, then 01-<mac>, then the hex
 * IP), so a host claiming another machine's UUID or IP changes nothing but its own entry. The hex
 * IP name is the peer's address, never the claimed `ip=`.
 *
 * Claim mode (`matchClientAddress: false`, for NAT, where every client has one address): files
 * are keyed by the claims and served to anyone. Any host can then read and replace any client's
 * file; README.md says so.
 */
import { LRUCache } from 'lru-cache'
import { ipv4Hex, swapUuid, type NameKey } from './lookup-names.js'

/** What the client said about itself in /boot (unverified), and the address the server saw. */
export interface BootClaims {
  readonly peer: string
  readonly mac?: string
  readonly uuid?: string
  readonly ip?: string
}

export type ClientName = Exclude<NameKey, { kind: 'default' }>

export interface ClientFiles {
  /** Resolves once the file is shared (replicas); a failure to share is logged, never thrown. */
  remember(claims: BootClaims, file: Buffer): void | Promise<void>
  /** The file `reader` may get under `name`, or undefined. */
  lookup(name: ClientName, reader: string): Buffer | undefined | Promise<Buffer | undefined>
}

export interface ClientFilesOptions {
  readonly maxClients: number
  readonly ttlMs: number
  readonly matchClientAddress: boolean
}

export const plainAddress = (a: string): string => a.replace(/^::ffff:/i, '')

export const nameKey = (n: ClientName): string => `${n.kind}:${n.key}`

/** The names a client's file answers: its MAC, its UUID in both byte orders, and `ip`'s hex. */
export function namesOf(mac: string | undefined, uuid: string | undefined, ip: string | undefined): string[] {
  const names: string[] = []
  if (mac) names.push(`mac:${mac.toLowerCase().replaceAll(':', '-')}`)
  // pxelinux names the file after DHCP option 97, whose first three fields iPXE shows byte-swapped.
  if (uuid) names.push(`uuid:${uuid.toLowerCase()}`, `uuid:${swapUuid(uuid)}`)
  const hex = ip ? ipv4Hex(ip) : undefined
  if (hex) names.push(`ip:${hex}`)
  return names
}

export function createClientFiles(options: ClientFilesOptions): ClientFiles {
  return options.matchClientAddress ? byPeer(options) : byClaim(options)
}

function byPeer(options: ClientFilesOptions): ClientFiles {
  // One entry per address the server saw; claims cannot reach another address's entry.
  const store = new LRUCache<string, { file: Buffer; names: ReadonlySet<string> }>({ max: options.maxClients, ttl: options.ttlMs })
  return {
    remember(claims, file) {
      const peer = plainAddress(claims.peer)
      store.set(peer, { file, names: new Set(namesOf(claims.mac, claims.uuid, peer)) })
    },
    lookup(name, reader) {
      const entry = store.get(plainAddress(reader))
      return entry?.names.has(nameKey(name)) ? entry.file : undefined
    },
  }
}

function byClaim(options: ClientFilesOptions): ClientFiles {
  // Up to four keys per client: MAC, UUID in both byte orders, IPv4.
  const store = new LRUCache<string, Buffer>({ max: options.maxClients * 4, ttl: options.ttlMs })
  return {
    remember(claims, file) {
      const peer = plainAddress(claims.peer)
      for (const key of namesOf(claims.mac, claims.uuid, claims.ip ?? peer)) store.set(key, file)
    },
    lookup(name) {
      return store.get(nameKey(name))
    },
  }
}
