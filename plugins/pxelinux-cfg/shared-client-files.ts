/**
 * Replicas on PostgreSQL: a client's generated file is also kept as a state document, so that the
 * replica that answers its TFTP or HTTP request for `pxelinux.cfg/…` serves what the replica that
 * answered its /boot generated. The same keying as client-files.ts: by the peer address in peer
 * mode (`pxelinux-cfg/peer/<address>`, read back only by that address), by each claimed name in
 * claim mode (`pxelinux-cfg/name/<name>`). The local memo answers first; a document is rewritten
 * only when its text changed or half its time to live has passed, so a repeated boot costs no write.
 * With the database unreachable the write fails and so does the boot, with bootpolicy's retry
 * failsafe (`stateUnavailable` from bootpolicy/plugin); any other failed write is logged and the
 * boot goes on (this replica still serves its own memo).
 */
import { isStateUnavailable, type StateBackend, stateUnavailable } from 'bootpolicy/plugin'
import type { Logger } from 'pino'
import { type BootClaims, type ClientFiles, type ClientFilesOptions, namesOf, nameKey, plainAddress } from './client-files.js'

interface SharedFile {
  readonly text: string
  /** Peer mode: the names this peer's file answers. */
  readonly names?: readonly string[]
  readonly expiresAt: number
}

const SAFE = /^[a-z0-9.:-]{1,100}$/

export function sharedClientFiles(local: ClientFiles, state: StateBackend, options: ClientFilesOptions, logger: Logger, now: () => number = Date.now): ClientFiles {
  // What this replica wrote last per key: skip rewriting an unchanged, still fresh document. The
  // names count too: a peer's next /boot may render the same text for another MAC, and the
  // document must then answer the new names, not the old ones.
  const written = new Map<string, { same: string; at: number }>()
  const put = async (key: string, doc: SharedFile): Promise<void> => {
    const same = JSON.stringify([doc.text, doc.names ?? null])
    const last = written.get(key)
    if (last && last.same === same && now() - last.at < options.ttlMs / 2) return
    await state.write(key, doc)
    if (written.size >= options.maxClients) written.delete(written.keys().next().value!)
    written.set(key, { same, at: now() })
  }
  const get = async (key: string): Promise<SharedFile | undefined> => {
    const doc = (await state.get<SharedFile>(key))?.value
    return doc && typeof doc.text === 'string' && doc.expiresAt > now() ? doc : undefined
  }
  return {
    remember(claims: BootClaims, file: Buffer) {
      local.remember(claims, file)
      const peer = plainAddress(claims.peer).toLowerCase()
      const text = file.toString('utf8')
      const expiresAt = now() + options.ttlMs
      const writes = options.matchClientAddress
        ? SAFE.test(peer)
          ? [put(`pxelinux-cfg/peer/${peer}`, { text, names: namesOf(claims.mac, claims.uuid, peer), expiresAt })]
          : []
        : namesOf(claims.mac, claims.uuid, claims.ip ?? peer)
            .filter((n) => SAFE.test(n))
            .map((n) => put(`pxelinux-cfg/name/${n}`, { text, expiresAt }))
      return Promise.all(writes).then(
        () => undefined,
        (err: unknown) => {
          // Unreachable: another replica may answer this client's TFTP request and would not have the
          // file. The boot gets bootpolicy's retry failsafe and comes back once the database is.
          if (isStateUnavailable(err)) throw stateUnavailable('pxelinux-cfg generated files', err)
          logger.warn({ err }, 'pxelinux-cfg: the generated file could not be shared with the other replicas')
        },
      )
    },
    async lookup(name, reader) {
      const mine = await local.lookup(name, reader)
      if (mine) return mine
      const key = nameKey(name)
      if (options.matchClientAddress) {
        const peer = plainAddress(reader).toLowerCase()
        if (!SAFE.test(peer)) return undefined
        const doc = await get(`pxelinux-cfg/peer/${peer}`)
        return doc?.names?.includes(key) ? Buffer.from(doc.text) : undefined
      }
      if (!SAFE.test(key)) return undefined
      const doc = await get(`pxelinux-cfg/name/${key}`)
      return doc ? Buffer.from(doc.text) : undefined
    },
  }
}
