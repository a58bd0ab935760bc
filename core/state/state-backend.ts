/**
 * The state backend: everything several bootpolicy replicas must share goes through this one
 * interface, so that a single server keeps its files and a group of replicas shares PostgreSQL
 * (file-backend.ts, postgres-backend.ts). It holds versioned JSON documents with compare-and-set,
 * per-key exclusive sections, change notifications and fixed-window counters. Components with
 * their own tables (DHCP leases) use the PostgreSQL backend's `transaction` and register their own
 * migrations (migrations.ts).
 */
import type { StateStore } from './state-store.js'

export type StateBackendKind = 'files' | 'postgres'

export interface VersionedDocument<T> {
  readonly value: T
  /** 1 for the first write, +1 per write; a document that does not exist has version 0. */
  readonly version: number
}

export interface CounterWindow {
  /** Sum of the deltas added since the window opened. */
  readonly count: number
  /** When the window ends (ms since the epoch): the next add after it starts from 0. */
  readonly resetAt: number
}

/**
 * Called with a published payload; with `undefined` when notifications may have been missed
 * (PostgreSQL's listener reconnected): drop everything derived from the channel.
 */
export type StateListener = (payload: string | undefined) => void

/** The channel on which every document change is published (payload: the key). */
export const DOCUMENT_CHANNEL = 'doc'

export interface StateBackend extends StateStore {
  readonly kind: StateBackendKind
  /** The document and its version, or undefined. */
  get<T>(key: string): Promise<VersionedDocument<T> | undefined>
  /**
   * Writes `value` only if the document's version is still `expected` (0: it must not exist).
   * Resolves the new version, or undefined when another writer got there first (read and retry).
   */
  compareAndSet(key: string, expected: number, value: unknown): Promise<number | undefined>
  /** Removes the document (no-op when absent). */
  delete(key: string): Promise<void>
  /** Keys starting with `prefix`, sorted. */
  keys(prefix: string): Promise<string[]>
  /**
   * Runs fn while no other holder of `key` runs, in this process and (PostgreSQL) in every
   * replica. Waits at most the backend's lock timeout, then rejects with BP_ERR_STATE_LOCK_TIMEOUT.
   */
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T>
  /** Delivers `payload` (≤ 7000 bytes) to every subscriber of `channel`, in every replica. */
  publish(channel: string, payload: string): Promise<void>
  /** Returns the unsubscribe function. */
  subscribe(channel: string, listener: StateListener): () => void
  /**
   * Adds `delta` to a fixed-window counter atomically (across replicas) and returns the window
   * after the add. The first add of a key, or the first after `resetAt`, opens a window of windowMs.
   */
  addToCounter(key: string, delta: number, windowMs: number): Promise<CounterWindow>
  /** The live window, or undefined when none is open. */
  readCounter(key: string): Promise<CounterWindow | undefined>
  resetCounter(key: string): Promise<void>
  /** Releases connections and listeners; pending calls settle first. */
  close(): Promise<void>
}

const KEY = /^[a-z0-9][a-z0-9._:/-]{0,199}$/
const CHANNEL = /^[a-z0-9][a-z0-9._-]{0,47}$/
export const MAX_PAYLOAD_BYTES = 7000

/** Document, lock and counter keys: lower-case, no `..`, at most 200 characters. */
export function checkKey(key: string): string {
  if (typeof key !== 'string' || !KEY.test(key) || key.includes('..') || key.includes('//')) throw new TypeError(`internal: bad state key ${JSON.stringify(key).slice(0, 80)}`)
  return key
}

export function checkChannel(channel: string): string {
  if (typeof channel !== 'string' || !CHANNEL.test(channel)) throw new TypeError(`internal: bad state channel ${JSON.stringify(channel).slice(0, 80)}`)
  return channel
}

export function checkPayload(payload: string): string {
  if (typeof payload !== 'string' || Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) throw new RangeError(`internal: state notification payload over ${MAX_PAYLOAD_BYTES} bytes`)
  return payload
}

export function checkWindow(delta: number, windowMs: number): void {
  if (!Number.isSafeInteger(delta)) throw new RangeError(`internal: counter delta must be an integer, got ${String(delta)}`)
  if (!Number.isSafeInteger(windowMs) || windowMs < 1) throw new RangeError(`internal: counter window must be a positive integer, got ${String(windowMs)}`)
}
