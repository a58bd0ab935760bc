/**
 * Versioned schema migrations for the PostgreSQL backend. Each component (`state`, later `dhcp`,
 * …) registers its own ordered list, numbered 1, 2, 3… on its own, so that components never
 * renumber each other. Applied versions are recorded in bp_schema_migrations(component, version,
 * name, applied_at); each migration runs in its own transaction together with its record, so a
 * replica killed mid-migration leaves either the whole step or none of it. The whole run holds a
 * session advisory lock: replicas starting at once apply each step exactly once.
 */
import { BootpolicyError, messageOf } from '../errors/bp-error.js'

export interface Migration {
  readonly version: number
  readonly name: string
  /** DDL, run as one statement batch in a transaction (no parameters: DDL takes none). */
  readonly sql: string
}

export interface MigrationStatus {
  readonly component: string
  /** Highest version applied in the database (0: none). */
  readonly applied: number
  /** Highest version this bootpolicy knows. */
  readonly known: number
  readonly pending: readonly { version: number; name: string }[]
}

/** The query function of one connection (pg.Client#query shape, parameters always passed). */
export type Query = (text: string, params: readonly unknown[]) => Promise<{ rows: Record<string, unknown>[] }>

const COMPONENT = /^[a-z][a-z0-9_-]{0,31}$/
/** The advisory lock key of the migration run (an arbitrary constant: "bpmigrat"). */
export const MIGRATION_LOCK = 0x62706d69677261n

export class MigrationRegistry {
  private readonly lists = new Map<string, readonly Migration[]>()

  /** Registers a component's migrations: versions must be 1..n in order, names non-empty. */
  register(component: string, migrations: readonly Migration[]): void {
    if (!COMPONENT.test(component)) throw new TypeError(`internal: bad migration component ${JSON.stringify(component)}`)
    if (this.lists.has(component)) throw new TypeError(`internal: migrations of ${component} registered twice`)
    migrations.forEach((m, i) => {
      if (m.version !== i + 1 || !m.name || !m.sql.trim()) throw new TypeError(`internal: migration ${component} #${i + 1} must have version ${i + 1}, a name and SQL`)
    })
    this.lists.set(component, migrations)
  }

  components(): string[] {
    return [...this.lists.keys()].sort()
  }

  async status(query: Query): Promise<MigrationStatus[]> {
    const applied = await appliedVersions(query)
    return this.components().map((component) => {
      const list = this.lists.get(component)!
      const have = applied.get(component) ?? 0
      return { component, applied: have, known: list.length, pending: list.filter((m) => m.version > have).map(({ version, name }) => ({ version, name })) }
    })
  }

  /**
   * Applies every pending migration. `session` is one dedicated connection (the advisory lock is
   * held by the session). Refuses a database whose schema is newer than this bootpolicy.
   */
  async apply(query: Query): Promise<{ component: string; version: number; name: string }[]> {
    const done: { component: string; version: number; name: string }[] = []
    await query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK.toString()])
    try {
      await query(
        'CREATE TABLE IF NOT EXISTS bp_schema_migrations (component text NOT NULL, version integer NOT NULL, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version))',
        [],
      )
      for (const s of await this.status(query)) {
        if (s.applied > s.known) {
          throw new BootpolicyError('BP_ERR_STATE_MIGRATION', { component: s.component, details: `the database is at version ${s.applied}, this bootpolicy knows only ${s.known}: upgrade bootpolicy` })
        }
        for (const p of s.pending) {
          const m = this.lists.get(s.component)![p.version - 1]!
          try {
            await query('BEGIN', [])
            await query(m.sql, [])
            await query('INSERT INTO bp_schema_migrations (component, version, name) VALUES ($1, $2, $3)', [s.component, m.version, m.name])
            await query('COMMIT', [])
          } catch (err) {
            await query('ROLLBACK', []).catch(() => undefined)
            throw new BootpolicyError('BP_ERR_STATE_MIGRATION', { component: s.component, details: `migration ${m.version} (${m.name}) failed: ${messageOf(err)}` }, { cause: err })
          }
          done.push({ component: s.component, version: m.version, name: m.name })
        }
      }
    } finally {
      await query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK.toString()]).catch(() => undefined)
    }
    return done
  }
}

async function appliedVersions(query: Query): Promise<Map<string, number>> {
  const exists = await query("SELECT to_regclass('bp_schema_migrations') IS NOT NULL AS present", [])
  const out = new Map<string, number>()
  if (exists.rows[0]?.present !== true) return out
  const { rows } = await query('SELECT component, max(version) AS version FROM bp_schema_migrations GROUP BY component', [])
  for (const r of rows) out.set(String(r.component), Number(r.version))
  return out
}

/** The state backend's own tables. */
export const STATE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'documents and counters',
    sql: `CREATE TABLE bp_state_documents (key text PRIMARY KEY, body text NOT NULL, version bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE bp_state_counters (key text PRIMARY KEY, count bigint NOT NULL, reset_at timestamptz NOT NULL);
CREATE INDEX bp_state_counters_reset_at ON bp_state_counters (reset_at);`,
  },
]
