/**
 * The PostgreSQL state backend: what several replicas share. Documents and fixed-window counters
 * live in tables of the `state` migrations (migrations.ts); every statement is parameterized.
 * Exclusive sections take pg_advisory_xact_lock in a transaction on a pool of their own (after an
 * in-process mutex, so that waiters of one process do not each hold a connection, and so that a
 * section's own statements on the main pool can never wait for a connection a section holds).
 * Notifications use LISTEN/NOTIFY on one channel, `bp_state`, with the bootpolicy channel inside
 * the payload (LISTEN takes no parameters); a document change is notified by the statement that
 * makes it, so replicas hear it exactly when it commits. The listener reconnects by itself and then
 * tells every subscriber that it may have missed changes (payload undefined).
 */
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import pg from 'pg'
import { BootpolicyError, messageOf } from '../errors/bp-error.js'
import { KeyedMutex } from './key-mutex.js'
import { MigrationRegistry, type MigrationStatus, type Query, STATE_MIGRATIONS } from './migrations.js'
import { type PgConnection, type PostgresStateConfig, postgresConnection } from './postgres-options.js'
import { type CounterWindow, checkChannel, checkKey, checkPayload, checkWindow, DOCUMENT_CHANNEL, type StateBackend, type StateListener, type VersionedDocument } from './state-backend.js'

const PG_CHANNEL = 'bp_state'
const NOTIFY_LIMIT = 7999

/** One connection inside a transaction; parameters are always passed (never build SQL from values). */
export interface SqlTransaction {
  query<R extends Record<string, unknown> = Record<string, unknown>>(text: string, params: readonly unknown[]): Promise<{ rows: R[]; rowCount: number }>
}

export interface StateLog {
  warn(obj: object, msg: string): void
  info(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface PostgresOpenOptions {
  /** Other components' migrations (e.g. `dhcp`), applied with the backend's own. */
  readonly registry?: MigrationRegistry
  readonly log?: StateLog
  readonly env?: NodeJS.ProcessEnv
}

/** SQLSTATE classes and node errors that mean "the database is not reachable right now". */
export function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code
  if (typeof code === 'string') {
    if (/^(08|57P|53)/.test(code) || code === '28P01' || code === '28000' || code === '3D000') return true
    if (['ECONNREFUSED', 'ECONNRESET', 'ENOENT', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND'].includes(code)) return true
  }
  const msg = messageOf(err)
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended|not queryable/i.test(msg)
}

export class PostgresStateBackend extends EventEmitter implements StateBackend {
  readonly kind = 'postgres' as const
  /** This replica's id: notifications it sent itself are not delivered twice. */
  readonly origin = randomBytes(8).toString('hex')
  private readonly pool: pg.Pool
  private readonly lockPool: pg.Pool
  private readonly mutex = new KeyedMutex()
  private readonly subscribers = new Map<string, Set<StateListener>>()
  private listener: pg.Client | undefined
  private listenerRetry: NodeJS.Timeout | undefined
  private listenerDelayMs = 100
  private pruneTimer: NodeJS.Timeout | undefined
  private closed = false
  private up = true
  readonly registry: MigrationRegistry

  private constructor(
    readonly connection: PgConnection,
    readonly cfg: PostgresStateConfig,
    registry: MigrationRegistry,
    private readonly log?: StateLog,
  ) {
    super()
    this.registry = registry
    const base: pg.PoolConfig = {
      host: connection.host,
      port: connection.port,
      database: connection.database,
      user: connection.user,
      ...(connection.password !== undefined ? { password: connection.password } : {}),
      ssl: connection.ssl,
      connectionTimeoutMillis: cfg.connectTimeoutMs,
      idleTimeoutMillis: cfg.pool.idleTimeoutMs,
      statement_timeout: cfg.statementTimeoutMs,
      application_name: 'bootpolicy',
    }
    this.pool = new pg.Pool({ ...base, max: cfg.pool.max })
    this.lockPool = new pg.Pool({ ...base, max: Math.max(2, Math.ceil(cfg.pool.max / 2)), statement_timeout: 0 })
    // An idle connection dropped by the server must not crash the process: the next use reconnects.
    for (const p of [this.pool, this.lockPool]) p.on('error', (err) => this.markDown(err))
  }

  /** Connects, applies (or, with migrate 'manual', checks) the migrations and starts listening. */
  static async open(cfg: PostgresStateConfig, options: PostgresOpenOptions = {}): Promise<PostgresStateBackend> {
    const connection = postgresConnection(cfg, options.env)
    const registry = options.registry ?? new MigrationRegistry()
    if (!registry.components().includes('state')) registry.register('state', STATE_MIGRATIONS)
    const b = new PostgresStateBackend(connection, cfg, registry, options.log)
    try {
      if (cfg.migrate === 'auto') await b.migrate()
      else {
        const pending = (await b.migrationStatus()).filter((s) => s.pending.length > 0 || s.applied > s.known)
        if (pending.length > 0) {
          throw new BootpolicyError('BP_ERR_STATE_MIGRATION', {
            component: pending.map((s) => s.component).join(', '),
            details: `the schema is not at this bootpolicy's version (state.migrate is manual): run \`bootpolicy state migrate\``,
          })
        }
      }
      await b.startListener()
    } catch (err) {
      await b.close()
      throw err
    }
    b.pruneTimer = setInterval(() => {
      b.query('DELETE FROM bp_state_counters WHERE reset_at < clock_timestamp()', []).catch(() => undefined)
    }, 60_000)
    b.pruneTimer.unref()
    return b
  }

  /** Connects without touching or checking the schema (for `bootpolicy state status`). */
  static async openUnmigrated(cfg: PostgresStateConfig, options: PostgresOpenOptions = {}): Promise<PostgresStateBackend> {
    const registry = options.registry ?? new MigrationRegistry()
    if (!registry.components().includes('state')) registry.register('state', STATE_MIGRATIONS)
    return new PostgresStateBackend(postgresConnection(cfg, options.env), cfg, registry, options.log)
  }

  /** Whether the last statement reached the database. */
  get available(): boolean {
    return this.up
  }

  private markDown(err: unknown): void {
    if (!this.up || this.closed) return
    this.up = false
    this.log?.error({ err: { message: messageOf(err), code: (err as { code?: string }).code }, target: this.connection.display }, 'state database unreachable')
    this.emit('down', err)
  }

  private markUp(): void {
    if (this.up) return
    this.up = true
    this.log?.warn({ target: this.connection.display }, 'state database reachable again')
    this.emit('up')
  }

  private translate(err: unknown): unknown {
    if (err instanceof BootpolicyError) return err
    if (isUnavailable(err)) {
      this.markDown(err)
      return new BootpolicyError('BP_ERR_STATE_UNAVAILABLE', { target: this.connection.display, details: messageOf(err) }, { cause: err })
    }
    if ((err as { code?: string }).code === '55P03') return new BootpolicyError('BP_ERR_STATE_LOCK_TIMEOUT', { timeoutMs: this.cfg.lockTimeoutMs }, { cause: err })
    return err
  }

  /** One parameterized statement on the main pool. */
  async query<R extends Record<string, unknown> = Record<string, unknown>>(text: string, params: readonly unknown[]): Promise<{ rows: R[]; rowCount: number }> {
    try {
      const r = await this.pool.query<R>(text, params as unknown[])
      this.markUp()
      return { rows: r.rows, rowCount: r.rowCount ?? 0 }
    } catch (err) {
      throw this.translate(err)
    }
  }

  /**
   * Runs fn in a transaction on one connection; with `lock`, under pg_advisory_xact_lock of that
   * key (held until commit or rollback). fn's rejection rolls back and is rethrown.
   */
  async transaction<T>(fn: (tx: SqlTransaction) => Promise<T>, options: { lock?: string } = {}): Promise<T> {
    return this.inTransaction(options.lock ? this.lockPool : this.pool, options.lock, fn)
  }

  private async inTransaction<T>(pool: pg.Pool, lock: string | undefined, fn: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    let client: pg.PoolClient
    try {
      client = await pool.connect()
    } catch (err) {
      throw this.translate(err)
    }
    let broken: unknown
    const onError = (err: unknown): void => {
      broken = err
    }
    client.on('error', onError)
    try {
      await client.query('BEGIN')
      if (lock !== undefined) {
        await client.query("SELECT set_config('lock_timeout', $1, true)", [`${this.cfg.lockTimeoutMs}ms`])
        await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [checkKey(lock)])
      }
      this.markUp()
      const tx: SqlTransaction = {
        query: async <R extends Record<string, unknown>>(text: string, params: readonly unknown[]) => {
          const r = await client.query<R>(text, params as unknown[])
          return { rows: r.rows, rowCount: r.rowCount ?? 0 }
        },
      }
      const out = await fn(tx)
      await client.query('COMMIT')
      return out
    } catch (err) {
      await client.query('ROLLBACK').catch((e: unknown) => {
        broken ??= e
      })
      throw this.translate(err)
    } finally {
      client.off('error', onError)
      // A connection that failed is destroyed, never handed to the next caller.
      client.release(broken instanceof Error ? broken : broken ? new Error('connection broken') : undefined)
    }
  }

  async read<T>(key: string): Promise<T | undefined> {
    return (await this.get<T>(key))?.value
  }

  async get<T>(key: string): Promise<VersionedDocument<T> | undefined> {
    const { rows } = await this.query<{ body: string; version: string }>('SELECT body, version FROM bp_state_documents WHERE key = $1', [checkKey(key)])
    const row = rows[0]
    return row ? { value: JSON.parse(row.body) as T, version: Number(row.version) } : undefined
  }

  private note(key: string): string {
    return JSON.stringify({ o: this.origin, c: DOCUMENT_CHANNEL, p: key })
  }

  async write(key: string, value: unknown): Promise<void> {
    const body = serialize(value)
    await this.query(
      `WITH w AS (INSERT INTO bp_state_documents AS d (key, body, version) VALUES ($1, $2, 1)
         ON CONFLICT (key) DO UPDATE SET body = EXCLUDED.body, version = d.version + 1, updated_at = now() RETURNING version)
       SELECT version, pg_notify($3, $4) FROM w`,
      [checkKey(key), body, PG_CHANNEL, this.note(key)],
    )
    this.deliver(DOCUMENT_CHANNEL, key)
  }

  async compareAndSet(key: string, expected: number, value: unknown): Promise<number | undefined> {
    if (!Number.isSafeInteger(expected) || expected < 0) throw new RangeError(`internal: expected version must be a non-negative integer, got ${String(expected)}`)
    const body = serialize(value)
    const sql =
      expected === 0
        ? `WITH w AS (INSERT INTO bp_state_documents (key, body, version) VALUES ($1, $2, 1) ON CONFLICT (key) DO NOTHING RETURNING version)
           SELECT version, pg_notify($3, $4) FROM w`
        : `WITH w AS (UPDATE bp_state_documents SET body = $2, version = version + 1, updated_at = now() WHERE key = $1 AND version = $5 RETURNING version)
           SELECT version, pg_notify($3, $4) FROM w`
    const params = [checkKey(key), body, PG_CHANNEL, this.note(key), ...(expected === 0 ? [] : [expected])]
    const { rows } = await this.query<{ version: string }>(sql, params)
    if (!rows[0]) return undefined
    this.deliver(DOCUMENT_CHANNEL, key)
    return Number(rows[0].version)
  }

  async delete(key: string): Promise<void> {
    const { rows } = await this.query('WITH d AS (DELETE FROM bp_state_documents WHERE key = $1 RETURNING key) SELECT pg_notify($2, $3) FROM d', [checkKey(key), PG_CHANNEL, this.note(key)])
    if (rows.length > 0) this.deliver(DOCUMENT_CHANNEL, key)
  }

  async keys(prefix: string): Promise<string[]> {
    if (typeof prefix !== 'string' || prefix.length > 200) throw new TypeError('internal: bad state key prefix')
    const { rows } = await this.query<{ key: string }>('SELECT key FROM bp_state_documents WHERE starts_with(key, $1) ORDER BY key COLLATE "C"', [prefix])
    return rows.map((r) => r.key)
  }

  withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.mutex.run(checkKey(key), () => this.inTransaction(this.lockPool, key, () => fn()))
  }

  async publish(channel: string, payload: string): Promise<void> {
    const note = JSON.stringify({ o: this.origin, c: checkChannel(channel), p: checkPayload(payload) })
    if (Buffer.byteLength(note) > NOTIFY_LIMIT) throw new RangeError(`internal: state notification payload too large once encoded`)
    await this.query('SELECT pg_notify($1, $2)', [PG_CHANNEL, note])
    this.deliver(channel, payload)
  }

  subscribe(channel: string, listener: StateListener): () => void {
    let set = this.subscribers.get(checkChannel(channel))
    if (!set) this.subscribers.set(channel, (set = new Set()))
    set.add(listener)
    return () => set.delete(listener)
  }

  private deliver(channel: string, payload: string | undefined): void {
    for (const l of this.subscribers.get(channel) ?? []) {
      try {
        l(payload)
      } catch (err) {
        this.log?.warn({ err: { message: messageOf(err) }, channel }, 'state listener threw')
      }
    }
  }

  private async startListener(): Promise<void> {
    const c = new pg.Client({
      host: this.connection.host,
      port: this.connection.port,
      database: this.connection.database,
      user: this.connection.user,
      ...(this.connection.password !== undefined ? { password: this.connection.password } : {}),
      ssl: this.connection.ssl,
      connectionTimeoutMillis: this.cfg.connectTimeoutMs,
      application_name: 'bootpolicy-listen',
      // Keepalive: a dead server behind a silent network is noticed, and the listener reconnects.
      keepAlive: true,
      keepAliveInitialDelayMillis: 5000,
    })
    c.on('error', (err) => this.listenerLost(c, err))
    c.on('end', () => this.listenerLost(c, new Error('Connection ended')))
    c.on('notification', (n) => {
      if (n.channel !== PG_CHANNEL || !n.payload) return
      let note: { o?: unknown; c?: unknown; p?: unknown }
      try {
        note = JSON.parse(n.payload) as typeof note
      } catch {
        return
      }
      if (note.o === this.origin || typeof note.c !== 'string' || typeof note.p !== 'string') return
      this.deliver(note.c, note.p)
    })
    try {
      await c.connect()
      await c.query(`LISTEN ${PG_CHANNEL}`)
    } catch (err) {
      c.removeAllListeners('end')
      c.on('error', () => undefined)
      await c.end().catch(() => undefined)
      throw this.translate(err)
    }
    this.listener = c
  }

  private listenerLost(c: pg.Client, err: unknown): void {
    if (this.listener !== c || this.closed) return
    this.listener = undefined
    c.removeAllListeners('end')
    c.on('error', () => undefined)
    c.end().catch(() => undefined)
    this.markDown(err)
    this.scheduleListener()
  }

  private scheduleListener(): void {
    if (this.closed || this.listenerRetry) return
    this.listenerRetry = setTimeout(() => {
      this.listenerRetry = undefined
      this.startListener().then(
        () => {
          this.listenerDelayMs = 100
          this.markUp()
          // Changes made while we were deaf are unknown: every subscriber drops what it derived.
          for (const channel of this.subscribers.keys()) this.deliver(channel, undefined)
          this.emit('resync')
        },
        () => {
          this.listenerDelayMs = Math.min(this.listenerDelayMs * 2, 2000)
          this.scheduleListener()
        },
      )
    }, this.listenerDelayMs)
    this.listenerRetry.unref()
  }

  /** Whether the change listener is connected (for health and tests). */
  get listening(): boolean {
    return this.listener !== undefined
  }

  async addToCounter(key: string, delta: number, windowMs: number): Promise<CounterWindow> {
    checkWindow(delta, windowMs)
    const { rows } = await this.query<{ count: string; remaining: number }>(
      `INSERT INTO bp_state_counters AS c (key, count, reset_at) VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond')
       ON CONFLICT (key) DO UPDATE SET
         count = CASE WHEN c.reset_at <= clock_timestamp() THEN EXCLUDED.count ELSE c.count + EXCLUDED.count END,
         reset_at = CASE WHEN c.reset_at <= clock_timestamp() THEN EXCLUDED.reset_at ELSE c.reset_at END
       RETURNING count, (extract(epoch FROM reset_at - clock_timestamp()) * 1000)::float8 AS remaining`,
      [checkKey(key), delta, windowMs],
    )
    return window(rows[0]!)
  }

  async readCounter(key: string): Promise<CounterWindow | undefined> {
    const { rows } = await this.query<{ count: string; remaining: number }>(
      'SELECT count, (extract(epoch FROM reset_at - clock_timestamp()) * 1000)::float8 AS remaining FROM bp_state_counters WHERE key = $1 AND reset_at > clock_timestamp()',
      [checkKey(key)],
    )
    return rows[0] ? window(rows[0]) : undefined
  }

  async resetCounter(key: string): Promise<void> {
    await this.query('DELETE FROM bp_state_counters WHERE key = $1', [checkKey(key)])
  }

  /** Applies pending migrations of every registered component (under the migration lock). */
  async migrate(): Promise<{ component: string; version: number; name: string }[]> {
    return this.onSession((q) => this.registry.apply(q))
  }

  async migrationStatus(): Promise<MigrationStatus[]> {
    return this.onSession((q) => this.registry.status(q))
  }

  async serverVersion(): Promise<string> {
    const { rows } = await this.query<{ v: string }>("SELECT current_setting('server_version') AS v", [])
    return rows[0]!.v
  }

  private async onSession<T>(fn: (q: Query) => Promise<T>): Promise<T> {
    let client: pg.PoolClient
    try {
      client = await this.pool.connect()
    } catch (err) {
      throw this.translate(err)
    }
    let failed: Error | undefined
    try {
      return await fn(async (text, params) => ({ rows: (await client.query(text, params as unknown[])).rows }))
    } catch (err) {
      failed = err instanceof Error ? err : new Error(messageOf(err))
      throw this.translate(err)
    } finally {
      client.release(failed)
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.listenerRetry)
    clearInterval(this.pruneTimer)
    this.subscribers.clear()
    const l = this.listener
    this.listener = undefined
    if (l) {
      l.removeAllListeners('end')
      l.on('error', () => undefined)
      await l.end().catch(() => undefined)
    }
    await Promise.all([this.pool.end().catch(() => undefined), this.lockPool.end().catch(() => undefined)])
  }
}

function window(row: { count: string; remaining: number }): CounterWindow {
  return { count: Number(row.count), resetAt: Date.now() + Math.max(0, Math.round(Number(row.remaining))) }
}

function serialize(value: unknown): string {
  const body = JSON.stringify(value)
  if (body === undefined) throw new TypeError('internal: state value is not JSON')
  return body
}
