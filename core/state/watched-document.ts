/**
 * A plugin's view of one state document that its facts or decisions depend on: the value, kept
 * fresh from change notifications (every replica's, with PostgreSQL), and a revision to return from
 * the plugin's `revision()` so that memoized /boot answers are dropped when the document changes.
 * The revision moves only once the new value is held, never before: an answer computed from the old
 * value can only be kept under the old revision, which no later request asks for.
 */
import { DOCUMENT_CHANNEL, type StateBackend } from './state-backend.js'

export interface WatchedDocument<T> {
  /** The value as last read (undefined: no document). */
  readonly value: T | undefined
  /** Changes after each change of the document has been read. */
  readonly revision: string
  /** Stops listening. */
  close(): void
}

/** Reads `key` once (rejects when the backend cannot), then follows its changes. */
export async function watchDocument<T>(state: StateBackend, key: string, options: { onError?: (err: unknown) => void } = {}): Promise<WatchedDocument<T>> {
  let value = (await state.get<T>(key))?.value
  let revision = 0
  let asked = 0
  const reread = (): void => {
    const mine = ++asked
    state.get<T>(key).then(
      (doc) => {
        // A slower older read must not overwrite a newer one.
        if (mine !== asked) return
        value = doc?.value
        revision = mine
      },
      (err: unknown) => options.onError?.(err),
    )
  }
  // `undefined`: notifications may have been missed (the listener reconnected): read again.
  const unsubscribe = state.subscribe(DOCUMENT_CHANNEL, (changed) => {
    if (changed === undefined || changed === key) reread()
  })
  return {
    get value() {
      return value
    },
    get revision() {
      return String(revision)
    },
    close: unsubscribe,
  }
}
