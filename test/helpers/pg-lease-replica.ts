/**
 * One PostgreSQL lease backend as a replica sees it, on a test database: the dhcp migrations, a
 * server address of its own, the pool 10.0.0.10–200 by default, 10.0.0.12 reserved for mac(999)
 * and 10.0.0.11 excluded. Shared by the PostgreSQL lease backend tests.
 */
import { ipToInt, sameSubnet } from '../../core/dhcp/ipv4.js'
import { DHCP_MIGRATIONS } from '../../core/dhcp/lease-migrations.js'
import { PostgresLeaseBackend } from '../../core/dhcp/postgres-lease-backend.js'
import { MigrationRegistry } from '../../core/state/migrations.js'
import type { PgDatabase } from './postgres.js'
import { pgBackend, type Teardownable } from './state-backends.js'

/** Client i's MAC: 02:00:00:00:hh:ll. */
export const testMac = (i: number): string => `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`

let replicas = 0

export interface ReplicaOptions {
  /** The replica's clock (Date.now by default). */
  readonly now?: () => number
  /** Called with the SQL of every statement the replica sends. */
  readonly onQuery?: (sql: string) => void
}

export async function openLeaseReplica(t: Teardownable, db: PgDatabase, pool = { start: '10.0.0.10', end: '10.0.0.200' }, options: ReplicaOptions = {}): Promise<PostgresLeaseBackend> {
  const registry = new MigrationRegistry()
  registry.register('dhcp', DHCP_MIGRATIONS)
  const state = await pgBackend(t, db, { registry })
  const onQuery = options.onQuery
  if (onQuery) {
    const query = state.query.bind(state)
    state.query = ((sql: string, values: unknown[]) => {
      onQuery(sql)
      return query(sql, values)
    }) as typeof state.query
  }
  const b = new PostgresLeaseBackend(state, {
    server: `10.0.0.${++replicas}`,
    poolStart: pool.start,
    poolEnd: pool.end,
    reserved: new Map([[ipToInt('10.0.0.12'), testMac(999)]]),
    excluded: new Set([ipToInt('10.0.0.11')]),
    inSubnet: (ip) => sameSubnet(ip, '10.0.0.0', '255.255.255.0'),
    ...(options.now ? { now: options.now } : {}),
  })
  await b.load()
  t.teardown(() => b.close())
  return b
}
